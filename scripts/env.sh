# Sourced by the scripts: lets Open MPI run as root (containers, CI) and on more ranks than cores.
if [[ $EUID -eq 0 ]]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
# PMIx authenticates each rank to mpirun with munge when libmunge is installed (Slurm's packages
# bring it). With no munged running it retries for 2.3 s before it falls back to `native` (the
# kernel's peer credentials on the local socket), on every mpirun; ask for `native` at once.
export PMIX_MCA_psec=${PMIX_MCA_psec:-native}
# mpirun's hwloc reads the configuration space of every PCI device (30 ms a run here) to learn
# where network cards sit; a workstation without HPC network cards gains nothing from it.
export HWLOC_COMPONENTS=${HWLOC_COMPONENTS:--linuxio,-pci}
# gridmr's ranks skip hwloc's OpenGL, OpenCL and libxml2 plugins (X display probes, ICU's data) and
# PMIx's shared-memory store by themselves (README, "Two commands"); with these mpirun skips them too.
export HWLOC_PLUGINS_BLACKLIST=${HWLOC_PLUGINS_BLACKLIST:-hwloc_gl,hwloc_opencl,hwloc_xml_libxml}
export PMIX_MCA_gds=${PMIX_MCA_gds:-hash}

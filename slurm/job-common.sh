# Sourced by the sbatch scripts: finds the gridmr binary and launches it with srun.


if [[ -z "${GRIDMR:-}" ]]; then
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  GRIDMR=$repo/build/gridmr
fi
[[ -x $GRIDMR ]] || { echo "gridmr: no executable at '$GRIDMR' (build it with scripts/setup.sh, or set GRIDMR)" >&2; exit 2; }

threads=${SLURM_CPUS_PER_TASK:-1}
export OMP_NUM_THREADS=$threads
# Slurm 22.05's srun does not inherit --cpus-per-task from sbatch: pass it on.
export SRUN_CPUS_PER_TASK=$threads

# gridmr_srun JOB ARGS...: one gridmr rank per Slurm task. Debian's Open MPI
# speaks PMIx only, hence --mpi=pmix. On SIGTERM (scancel, time limit) gridmr
# removes its partial output and exits within a second; no --signal is needed.
gridmr_srun() {
  local job=$1
  shift
  echo "gridmr: $SLURM_NTASKS rank(s) x $threads thread(s) on $SLURM_JOB_NODELIST: $GRIDMR $job $*"
  # --kill-on-bad-exit: a rank that dies ends the whole step instead of leaving the
  # others waiting in a collective call.
  srun --mpi=pmix --kill-on-bad-exit=1 --cpus-per-task="$threads" "$GRIDMR" "$job" --threads "$threads" "$@"
}

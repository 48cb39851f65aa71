// The ranks of a job: identity, host, and the default thread count.
#include "gridmr/runtime/cluster.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

#include "gridmr/runtime/spare_cores.hpp"

namespace gridmr {

namespace {

int cores_on_node() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

// The cores this process may run on (all the node's if unknown).
cpu_set_t cores_bound() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) == 0) {
    for (int cpu = 0; cpu < std::min(cores_on_node(), CPU_SETSIZE); ++cpu) CPU_SET(cpu, &set);
  }
  return set;
}

// Whether every rank of this job runs on this node, from what the launcher
// tells a rank before MPI_Init: Open MPI's mpirun, Slurm's srun, or neither (a
// singleton run). Unknown launchers count as "no".
bool job_on_one_node() {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (local != nullptr && world != nullptr) return std::strcmp(local, world) == 0;
  if (const char* nodes = std::getenv("SLURM_STEP_NUM_NODES")) return std::strcmp(nodes, "1") == 0;
  return std::getenv("PMIX_RANK") == nullptr && std::getenv("PMI_RANK") == nullptr;
}

// The IPv4 address of the PMIx server this process is a client of, from the
// URI its launcher put in the environment ("<id>;tcp4://127.0.0.1:45433");
// false when there is none (a singleton, or a server on a Unix socket).
bool pmix_server_address(sockaddr_in& address) {
  for (const char* name : {"PMIX_SERVER_URI41", "PMIX_SERVER_URI4", "PMIX_SERVER_URI3",
                           "PMIX_SERVER_URI21", "PMIX_SERVER_URI2"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    std::string_view uri(value);
    constexpr std::string_view kScheme = "tcp4://";
    const std::size_t at = uri.find(kScheme);
    if (at == std::string_view::npos) return false;
    uri = uri.substr(at + kScheme.size());
    uri = uri.substr(0, uri.find(';'));  // "127.0.0.1:45433", whatever may follow
    const std::size_t colon = uri.find(':');
    if (colon == std::string_view::npos) return false;
    const std::string ip(uri.substr(0, colon));
    const int port = std::atoi(std::string(uri.substr(colon + 1)).c_str());
    address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    return port > 0 && port < 65536 && ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr) == 1;
  }
  return false;
}

// Whether Open MPI's mpirun bound this rank by its own default policy: to a
// core each at up to 2 ranks, to a NUMA domain or socket above. A binding or
// mapping the user chose reaches the rank in the environment (from mpirun's
// options, or set there by the user); a rankfile does not, nor do MCA
// parameter files, so a note based on this says "default" only in words.
bool bound_by_mpirun_default() {
  const char* bound = std::getenv("OMPI_MCA_orte_bound_at_launch");
  if (bound == nullptr || std::strcmp(bound, "1") != 0) return false;
  for (const char* chosen :
       {"OMPI_MCA_hwloc_base_binding_policy", "OMPI_MCA_rmaps_base_mapping_policy",
        "OMPI_MCA_hwloc_base_cpu_set", "OMPI_MCA_rmaps_rank_file_path"}) {
    if (std::getenv(chosen) != nullptr) return false;
  }
  return true;
}

// The cores the rank's launcher (mpirun, orted, slurmstepd) may run on: those
// a job may use on this node. 0 if unknown.
int launcher_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(::getppid(), sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}

}  // namespace

void send_launcher_messages_at_once() {
  sockaddr_in server;
  if (!pmix_server_address(server)) return;
  DIR* fds = ::opendir("/proc/self/fd");
  if (fds == nullptr) return;
  while (const dirent* entry = ::readdir(fds)) {
    const int fd = std::atoi(entry->d_name);
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || fd == ::dirfd(fds)) continue;
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0 ||
        peer.sin_family != AF_INET || peer.sin_port != server.sin_port ||
        peer.sin_addr.s_addr != server.sin_addr.s_addr) {
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ::closedir(fds);
}

// HDF5 never uses MPI-IO's shared file pointers, yet Open MPI's OMPIO opens
// them with every file: `lockedfile` makes OUT.partial-...lock (and crashes on
// paths over ~225 bytes), `individual` makes OUT.partial-....data.N and
// .metadata.N per rank across nodes. A rank killed by a signal leaves them
// behind. Only `sm` (one node, no files there) stays allowed.
void avoid_locked_file_pointers() {
  ::setenv("OMPI_MCA_sharedfp", "^lockedfile,individual", 0);  // never overrides the user's
}

void skip_unused_startup_work() {
  ::setenv("HWLOC_PLUGINS_BLACKLIST", "hwloc_gl,hwloc_opencl,hwloc_xml_libxml", 0);
  ::setenv("PMIX_MCA_gds", "hash", 0);
  if (job_on_one_node()) ::setenv("HWLOC_COMPONENTS", "-linuxio,-pci", 0);
}

bool yield_when_oversubscribed() {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (local == nullptr || std::getenv("OMPI_MCA_mpi_yield_when_idle") != nullptr) return false;
  if (std::atoi(local) <= cores_on_node()) return false;
  return ::setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0) == 0;
}

bool prefer_shared_memory_transport() {
  if (std::getenv("OMPI_MCA_pml") != nullptr || !job_on_one_node()) return false;
  return ::setenv("OMPI_MCA_pml", "ob1", 0) == 0;
}

Cluster::Cluster(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  host_.assign(name, length);

  // Every rank of the node learns the cores each of them may run on.
  MPI_Comm node;
  MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  int ranks_on_node = 1;
  MPI_Comm_size(node, &ranks_on_node);
  const cpu_set_t mine = cores_bound();
  std::vector<cpu_set_t> cores(static_cast<std::size_t>(ranks_on_node));
  MPI_Allgather(&mine, sizeof mine, MPI_BYTE, cores.data(), sizeof mine, MPI_BYTE, node);
  cpu_set_t all;
  CPU_ZERO(&all);
  for (const cpu_set_t& rank : cores) CPU_OR(&all, &all, &rank);
  cores_bound_ = CPU_COUNT(&mine);
  node_cores_bound_ = CPU_COUNT(&all);
  SpareCores::share_with_node(node, all);
  MPI_Comm_free(&node);

  const char* env = std::getenv("OMP_NUM_THREADS");
  threads_from_environment_ = env != nullptr && std::atoi(env) > 0;
  default_threads_ = threads_from_environment_ ? std::atoi(env) : threads_per_rank(mine, cores);
}

Cluster::~Cluster() { SpareCores::stop_sharing(); }

int threads_per_rank(const cpu_set_t& mine, const std::vector<cpu_set_t>& node) {
  int sharing = 0;
  for (const cpu_set_t& rank : node) {
    cpu_set_t both;
    CPU_AND(&both, &mine, &rank);
    sharing += CPU_COUNT(&both) > 0;
  }
  return std::max(1, CPU_COUNT(&mine) / std::max(1, sharing));
}

std::string Cluster::binding_note(int threads, bool threads_given) const {
  const int usable = launcher_cores();
  if (usable <= cores_bound_) return {};  // not bound, or bound to all a job may use
  const bool by_default = bound_by_mpirun_default();
  if (threads > cores_bound_) {
    return fmt::format(
        "gridmr: note: each rank runs {} threads on the {} core{} it is bound to ({}); "
        "`mpirun --bind-to none` (or `--map-by slot:PE={}`) gives each thread a core\n",
        threads, cores_bound_, cores_bound_ == 1 ? "" : "s",
        by_default ? "mpirun's default binding" : "the launcher's binding", threads);
  }
  const int idle = usable - node_cores_bound_;
  if (!by_default || threads_given || threads_from_environment_ || idle <= 0) return {};
  return fmt::format(
      "gridmr: note: mpirun bound each rank to {} core{} (its default), so {} of the {} cores "
      "of this node {} idle; `mpirun --bind-to none` lets the ranks' threads use them\n",
      cores_bound_, cores_bound_ == 1 ? "" : "s", idle, usable, idle == 1 ? "stays" : "stay");
}

}  // namespace gridmr

// The shuffle: every pair goes to the rank that owns its key, in bounded rounds.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "gridmr/detail/key_table.hpp"
#include "gridmr/shuffle/partitioner.hpp"
#include "gridmr/spill/runs.hpp"

namespace gridmr {

struct ShuffleStats {
  std::uint64_t bytes_sent = 0;      // to other ranks
  std::uint64_t bytes_received = 0;  // from other ranks
  std::uint64_t rounds = 0;
};

// Largest number of bytes one rank sends to one peer in a round, for a round
// budget of `memory` bytes per rank (send and receive buffers together) on
// `ranks` ranks. Always leaves every count and displacement below INT_MAX.
std::uint64_t per_peer_round_bytes(std::uint64_t memory, int ranks);

// The pairs a rank sends: its map tables, and the sorted runs they spilled
// (read through buffers of `reader_bytes`).
struct ShuffleInput {
  std::span<const TableView> tables;
  std::span<const std::shared_ptr<const Run>> runs;
  std::size_t reader_bytes = 1 << 20;
};

// Collective. Serializes the pairs of `input` (values of `value_size` bytes) by the
// owner of their key part (`layout`), exchanges them with
// MPI_Alltoall (counts) and MPI_Alltoallv (bytes) round after round until every
// rank is done, and hands each round's received bytes (whole records, see
// records.hpp) to `receive`. A record larger than a round's share travels alone.
ShuffleStats shuffle(MPI_Comm comm, const ShuffleInput& input, std::size_t value_size,
                     const KeyLayout& layout, const RangePartitioner& partitioner,
                     std::uint64_t memory,
                     const std::function<void(const char* data, std::size_t size)>& receive);

}  // namespace gridmr

// The SIMD kernels: written once with Google Highway, compiled for several
// targets (SSSE3, SSE4, AVX2, AVX-512, AVX-512 with VBMI2, and a scalar fallback),
// and chosen at run time for the CPU at hand. Out of line on purpose: an
// inline kernel compiled differently in the library and in a user's job would
// break the one-definition rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gridmr::simd {

// Folds ASCII case in place and sets bit j of mask[j / 64] when data[j] is a
// word byte (an ASCII letter or digit, or a byte >= 0x80), for j < size;
// higher bits of the last mask word are cleared. `mask` holds (size + 63) / 64 words.
void fold_and_classify(char* data, std::size_t size, std::uint64_t* mask);

// The positions j < size where byte j's class (in `mask`) differs from byte
// j-1's, in order, byte -1 counting as a word byte when `in_word`: where words
// start and end. Writes them to out[0..n) and returns n; `out` must have room
// for size + 64 entries (whole groups are written past n).
std::size_t list_word_edges(const std::uint64_t* mask, std::size_t size, bool in_word,
                            std::uint32_t* out);

// The positions j < size where data[j] is a tab or a newline, in order (a
// streaming mapper's key<TAB>value lines). Writes them to out[0..n) and
// returns n; `out` must have room for size + 64 entries.
std::size_t list_tabs_and_newlines(const char* data, std::size_t size, std::uint32_t* out);

// Monte Carlo: hits in the quarter disc among both samples of each Philox4x32-10
// block in [first, last) of the stream keyed by `seed` (jobs/montecarlo_kernel.cpp
// defines the stream).
std::uint64_t philox_block_hits(std::uint64_t first, std::uint64_t last, std::uint64_t seed);
// The same with ARS-7 blocks (gridmr/simd/ars.hpp defines the generator).
std::uint64_t ars_block_hits(std::uint64_t first, std::uint64_t last, std::uint64_t seed);

// The target the kernels run on ("avx3_dl", "avx2", ...: Highway's names in
// lower case), and every target compiled in that this CPU supports, best first.
std::string target_in_use();
std::vector<std::string> targets_supported();
std::vector<std::string> targets_compiled();

// GRIDMR_SIMD=<name> restricts the kernels to that target. Throws UsageError
// for an unknown name or one this CPU lacks. Call once, before any kernel.
void choose_target_from_environment();
// The same for a name; "" goes back to the best target of the CPU (for tests).
void choose_target(const std::string& name);

}  // namespace gridmr::simd

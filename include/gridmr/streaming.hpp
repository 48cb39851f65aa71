// The built-in commands that run other programs: `stream` (a mapper and a
// reducer in any language, Hadoop Streaming style) and `farm` (one command per
// item, a Pool.map for a cluster). docs/streaming.md has their contracts.
#pragma once

#include "gridmr/main.hpp"

namespace gridmr {

// `gridmr stream --mapper CMD [--reducer sum|min|max|count|mean|collect|CMD] ...`
JobEntry stream_command();

// `gridmr farm --command CMD (--items FILE | --range N) ...`
JobEntry farm_command();

}  // namespace gridmr

// gridmr: everything a job needs. Include this one header (docs/writing-a-job.md).
#pragma once

#include "gridmr/errors.hpp"
#include "gridmr/job.hpp"
#include "gridmr/main.hpp"
#include "gridmr/options.hpp"
#include "gridmr/output.hpp"
#include "gridmr/plan.hpp"
#include "gridmr/result_file.hpp"
#include "gridmr/value.hpp"

#include "projections/case_id_order.h"

namespace casegrid {

std::optional<std::uint64_t> CaseIdOrdinal(std::string_view id) {
  if (id.size() != 17 || id[0] != 'C' || id[1] != '-' || id[10] != '-') return std::nullopt;
  std::uint64_t ordinal = 0;
  for (std::size_t i = 2; i < id.size(); ++i) {
    if (i == 10) continue;
    if (id[i] < '0' || id[i] > '9') return std::nullopt;
    ordinal = ordinal * 10 + static_cast<std::uint64_t>(id[i] - '0');
  }
  return ordinal;
}

}  // namespace casegrid

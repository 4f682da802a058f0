// Sorting by case id without chasing each id's text.
//
// A rebuild's last step writes every case's view in key order: tens of
// thousands of ids, each a 17-byte string on the heap, compared by memcmp
// through a pointer (a cache miss each) when sorted as text. The engine's
// ids (C-<yyyymmdd>-<6 digits>) are of fixed width, so their numbers order
// as their texts do: sorted as numbers beside their items, no id is read
// more than once.
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace casegrid {

// yyyymmdd * 10^6 + sequence for an id of the form C-dddddddd-dddddd (any
// digits: the order, not the calendar, is what counts); nullopt otherwise.
std::optional<std::uint64_t> CaseIdOrdinal(std::string_view id);

// Sorts `items` by the id `id_of(item)` returns (a string_view), as text:
// as numbers when every id has the engine's form, else as text.
template <typename T, typename IdOf>
void SortByCaseId(std::vector<T>& items, IdOf id_of) {
  std::vector<std::pair<std::uint64_t, std::size_t>> ordinals;
  ordinals.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::optional<std::uint64_t> ordinal = CaseIdOrdinal(id_of(items[i]));
    if (!ordinal) {
      std::sort(items.begin(), items.end(),
                [&](const T& a, const T& b) { return id_of(a) < id_of(b); });
      return;
    }
    ordinals.emplace_back(*ordinal, i);
  }
  std::sort(ordinals.begin(), ordinals.end());
  std::vector<T> sorted;
  sorted.reserve(items.size());
  for (const auto& [ordinal, i] : ordinals) sorted.push_back(std::move(items[i]));
  items = std::move(sorted);
}

}  // namespace casegrid

#include "engine/insert_hints.h"

#include <rocksdb/slice.h>
#include <rocksdb/slice_transform.h>

#include <cstddef>

namespace casegrid::storage {
namespace {

// Keeps the first bytes of a key: all but `drop_last`, or `keep` of them.
class KeyPrefix final : public rocksdb::SliceTransform {
 public:
  KeyPrefix(const char* name, std::size_t keep, std::size_t drop_last)
      : name_(name), keep_(keep), drop_last_(drop_last) {}
  const char* Name() const override { return name_; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    if (keep_ != kAll) return rocksdb::Slice(key.data(), keep_);
    return rocksdb::Slice(key.data(), key.size() - drop_last_);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return keep_ != kAll ? key.size() >= keep_ : key.size() >= drop_last_;
  }
  static constexpr std::size_t kAll = static_cast<std::size_t>(-1);

 private:
  const char* const name_;
  const std::size_t keep_;
  const std::size_t drop_last_;
};

}  // namespace

std::shared_ptr<const rocksdb::SliceTransform> HintForAllKeys() {
  static const auto t = std::make_shared<const KeyPrefix>("casegrid.HintForAllKeys", 0, 0);
  return t;
}

std::shared_ptr<const rocksdb::SliceTransform> HintPerKey() {
  static const auto t =
      std::make_shared<const KeyPrefix>("casegrid.HintPerKey", KeyPrefix::kAll, 0);
  return t;
}

std::shared_ptr<const rocksdb::SliceTransform> HintPerGroupOfNumberedKeys() {
  static const auto t =
      std::make_shared<const KeyPrefix>("casegrid.HintPerGroupOfNumberedKeys", KeyPrefix::kAll, 8);
  return t;
}

}  // namespace casegrid::storage

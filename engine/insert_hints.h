// Insert hints for RocksDB memtables: which keys a memtable remembers its
// last insert position for, so that the next insert of a key nearby skips
// the skip list's search from the top (ColumnFamilyOptions::
// memtable_insert_with_hint_prefix_extractor). The log's keys mostly grow
// within a group (positions; one stream's versions) and the views rewrite the
// same keys over and over, so the search is mostly wasted.
//
// Hints apply to writes that are not concurrent (allow_concurrent_memtable_
// write = false, or one writer at a time): the store and the views each
// write from one thread.
//
// Thread-safety: the transforms are immutable and shareable.
#pragma once

#include <memory>

namespace rocksdb {
class SliceTransform;
}

namespace casegrid::storage {

// One hint for every key: for keys written in increasing order (positions).
std::shared_ptr<const rocksdb::SliceTransform> HintForAllKeys();
// A hint per key: for a few keys rewritten again and again (checkpoints,
// dashboard nodes).
std::shared_ptr<const rocksdb::SliceTransform> HintPerKey();
// A hint per key less its last 8 bytes: for keys `group \0 big-endian number`
// whose number grows within the group (a node's dashboard snapshots).
std::shared_ptr<const rocksdb::SliceTransform> HintPerGroupOfNumberedKeys();

}  // namespace casegrid::storage

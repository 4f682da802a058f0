// DurableMark: the position through which a writing store's log is durable,
// kept for the read-only followers of other processes (the command line's
// read, tail, digest, verify and replay beside a running serve).
//
// A follower replays the writer's write-ahead log as the file system shows
// it, which holds a group's bytes as soon as they are written: before their
// fsync returns, and even when it fails (review 86: `casegrid digest` beside
// a serve whose fsync was slow named a head the server had not acknowledged;
// after a failed fsync and a power cut, another event took that position,
// which would look like tampering). The writer sets the mark once each
// group's fsync has succeeded, and a follower reads no further than it while
// a writer holds the store.
//
// The mark's file, <store>/DURABLE, is written in place and never synced: a
// crash may leave it behind the log (a follower then reads less than is
// durable, until the next writer opens the store), never ahead of it, since
// it is written only after the fsync of what it names.
//
// Thread-safety: Set from one thread at a time; ReadWhileWritten is a pure
// function of the files.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/event.h"
#include "engine/status.h"

namespace casegrid {

class DurableMark {
 public:
  // The mark of the store at `store_path` (a folder that exists), for its
  // writer; the file is made if missing.
  static Result<std::unique_ptr<DurableMark>> Open(const std::string& store_path);
  ~DurableMark();
  DurableMark(const DurableMark&) = delete;
  DurableMark& operator=(const DurableMark&) = delete;

  // The log is durable through `position`. A write that fails is not
  // retried: the mark stays behind, and followers read less until the next.
  void Set(Position position);

  // For a follower: the mark, while a writer in another process holds the
  // store (its LOCK file's lock, read from /proc/locks without opening the
  // file); nullopt when none does (the log as it stands is
  // all there is: what a writer that stopped left in its log, the next one
  // recovers), or when there is no mark to read (a writer of a build before
  // it: a follower reads what the log shows, as it did).
  static std::optional<Position> ReadWhileWritten(const std::string& store_path);

  // The mark a writer that stopped left, while no writer (of any process,
  // this one too) holds the store; nullopt while one does, or when there is none. For a
  // follower's verify: the log should reach it.
  static std::optional<Position> ReadWhenNotWritten(const std::string& store_path);

  // The mark as the last writer left it, whoever holds the store; nullopt
  // when there is none (or none whole). For a writer's open, before it sets
  // its own: what a writer before it knew to be durable.
  static std::optional<Position> Read(const std::string& store_path);

 private:
  explicit DurableMark(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace casegrid

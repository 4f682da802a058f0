// The tamper-evident chain over the global log (API.md, "Audit").
//
//   hash(p) = SHA-256( hash(p-1) as 32 raw bytes || canonical bytes of event p )
//   hash(0) = 32 zero bytes
//
// Anyone holding the log can recompute it; `casegrid verify` does.
//
// Thread-safety: HashChain is not thread-safe (one per writer or verifier);
// the free functions are.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/event.h"

namespace casegrid {

// Lowercase hex of the 32 bytes.
std::string HashToHex(const EventHash& hash);
// Parses 64 hex digits; false if `hex` is not that.
bool HashFromHex(std::string_view hex, EventHash* out);

// Computes successive links of the chain, reusing one digest context.
class HashChain {
 public:
  HashChain();
  ~HashChain();
  HashChain(const HashChain&) = delete;
  HashChain& operator=(const HashChain&) = delete;

  // SHA-256(previous || canonical_bytes).
  EventHash Next(const EventHash& previous, std::string_view canonical_bytes);

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

}  // namespace casegrid

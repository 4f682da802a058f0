#include "engine/hash_chain.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace casegrid {

struct HashChain::Context {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(md); }
};

HashChain::HashChain() : ctx_(std::make_unique<Context>()) {
  if (ctx_->md == nullptr) std::abort();  // out of memory: nothing sensible to do
}

HashChain::~HashChain() = default;

EventHash HashChain::Next(const EventHash& previous, std::string_view canonical_bytes) {
  EventHash out{};
  unsigned int len = 0;
  // With SHA-256 from the default provider these calls cannot fail on valid
  // arguments; a failure means a broken OpenSSL, which we refuse to paper over.
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx_->md, previous.data(), previous.size()) != 1 ||
      EVP_DigestUpdate(ctx_->md, canonical_bytes.data(), canonical_bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_->md, out.data(), &len) != 1 || len != out.size()) {
    std::abort();
  }
  return out;
}

std::string HashToHex(const EventHash& hash) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (auto b : hash) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

bool HashFromHex(std::string_view hex, EventHash* out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace casegrid

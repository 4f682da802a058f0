// The hub's record of one subscription and of one followed case, shared by
// push_hub.cc and push_catch_up.cc. Internal to the API library.
//
// Thread-safety: the fields marked so are guarded by the hub's mu_; the
// catch-up's are touched by one pool step at a time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/push_hub.h"
#include "api/push_messages.h"

namespace casegrid {

// The hub's own vocabulary (push_messages.h), for its two files.
using push::AcknowledgedJson;
using push::ApplyToCase;
using push::CaseEventMessage;
using push::CaseSight;
using push::ChannelKind;
using push::kCaseSights;
using push::Message;
using push::ParsePushChannel;
using push::PathsCovering;
using push::ReadViewHead;
using push::SightOf;
using push::ViewPosition;
using push::ViewSight;

struct PushHub::Sub {
  std::weak_ptr<PushSink> sink;
  const PushSink* sink_key = nullptr;
  Principal who;
  std::int64_t request_id = 0;
  std::string channel;    // as the client named it
  std::string index_key;  // by_channel_: the channel, or "alerts/<sub>"
  push::ChannelKind kind = push::ChannelKind::kEvents;
  std::string target;
  // Its dashboard views' key in the sink's queue (PushSink::Push): the
  // hub's next number, never another subscription's.
  std::uint64_t coalesce_key = 0;

  // Guarded by the hub's mu_.
  bool registered = false, live = false, removed = false;
  bool admitted = false;  // passed its checks: counts against MaxSubscriptions
  bool answered = false;  // its "subscribed" was given to the sink
  Position cursor = 0;    // sent through here
  Position target_position = 0;
  Position floor = 0;  // live messages at or below are not sent (already covered)
  struct Pending {
    Position position;
    PushMessage message;
    std::string case_id;  // cell channels: whose view it is
  };
  std::vector<Pending> pending;
  std::size_t pending_bytes = 0;
  bool overflowed = false;
  std::map<std::string, Position, std::less<>> snapshot_newer;  // cell: case -> view position

  // The catch-up's, one step at a time: case/{id}'s fold, made only for
  // those (a CaseState is ~700 bytes, which every other subscription held).
  std::unique_ptr<CaseState> fold;
};

// The live state of a case that has subscribers on case/{id}.
struct PushHub::CaseFeed {
  CaseState state;
  int subscribers = 0;
};

}  // namespace casegrid

// What a raw append (POST /api/v1/streams/{stream}, `casegrid append`) must
// keep in a case stream, so that one stream is one case, reported once, in
// one cell, of the engine's events: CaseReported opens a case stream, and
// nothing else does.
//
// The lifecycle rules are the commands' (case_decider.h); a raw append is for
// imports and integrations and may write any sequence of case events. But a
// second CaseReported would move the case to another cell behind the views'
// back, and events on a case never reported fold into nothing.
//
// Thread-safety: pure functions.
#pragma once

#include <vector>

#include "engine/case_events.h"
#include "engine/event_store.h"
#include "engine/status.h"

namespace casegrid {

// Checks `request` and pins its expected version so that the store enforces
// the rule atomically, whatever other appends come in between:
//   - the stream's case id has the engine's form (IsCaseId), else
//     kInvalidArgument: the next intake's id is read from the day's last one;
//     and a case is opened only with a sequence up to
//     kLastImportedCaseSequence, else kInvalidArgument, so that the intake
//     keeps numbers of its own whatever was imported;
//   - every event is one of the engine's case events (IsCaseEventType: not
//     a grid event, not an alert's acknowledgment), else kInvalidArgument
//     naming it: the case folds read nothing else;
//   - a CaseReported may only be the first event, else kInvalidArgument
//     naming it; with one first, the stream must not exist yet: `any`
//     becomes `no_stream`, and `exists` or a version above 0 is kConflict;
//   - without one, the stream must exist: `any` becomes `exists`; `no_stream`
//     (or version 0) is kInvalidArgument, since it would open the stream.
//   - the stream may not hold more than kCaseEventsTakingNotes once written
//     (max_version), as notes may not, so that the case keeps room for its
//     course: the store answers kConflict past it.
// A retry of an append the log holds already is still answered by the store
// as a duplicate: it looks at event ids before expected versions. Streams
// other than case streams are left as they are.
Status PinCaseStreamOpening(AppendRequest& request);

// kInvalidArgument for the streams the server alone writes, whatever a raw
// append brings: alerts/<person> (an acknowledgment of an alert the views
// hold, through the API) and audit/<auditor> (the reads it records); and for
// look-alikes of the server's categories (`AUDIT/x`, `Case/…`) and names
// with a `.` or `..` segment (`./audit/x`), which an auditor reading the log
// would take for the server's and the views would not.
Status RefuseTheServersStreams(std::string_view stream);

// The data of an imported `event`, checked: of one of the engine's types, it
// must decode (DecodeEventData's error, unprefixed, if not), and its data is
// rewritten as the engine writes it, so that the same data has one form and
// one hash in the log whoever wrote it (reviews 112 and 114: an empty
// `parties` kept its `[]`); that data is returned. Another type is the
// importer's own: kept as sent, and nullopt.
Result<std::optional<CaseEventData>> CheckImportedData(NewEvent& event);

// The store's answer to a pinned append, its version conflicts told as the
// case rule they break ("case … is reported already", "case … was never
// reported"); anything else as it is.
Status ExplainCaseStreamConflict(const AppendRequest& pinned, Status status);

}  // namespace casegrid

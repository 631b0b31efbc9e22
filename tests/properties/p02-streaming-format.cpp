// Property 2 — streaming format conformance (framing part): events are `data: <json>\n\n`, all
// chunks share one id and are chat.completion.chunk, the first delta of each choice carries the
// role, its last a finish_reason, the stream ends with `data: [DONE]`, and the joined deltas equal
// the text. (That the joined deltas equal the non-streamed text for the same seed is checked end
// to end against the real server in tests/python.)
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "server/openai-protocol.h"

namespace cyllm::server {
namespace {

using ojson = nlohmann::ordered_json;

RC_GTEST_PROP(P02StreamingFormat, ChunksFrameAndJoin, ()) {
  const auto text = *rc::gen::container<std::string>(rc::gen::inRange<char>(1, 127));
  const bool usage = *rc::gen::arbitrary<bool>();
  const std::string id = new_id("chatcmpl");
  // Split the text into random deltas, as tokens would arrive.
  std::string stream = sse_event(chat_chunk(id, 1, "m", 0, "assistant", "", std::nullopt));
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = *rc::gen::inRange<size_t>(1, 8);
    stream += sse_event(chat_chunk(id, 1, "m", 0, std::nullopt, text.substr(pos, n), std::nullopt));
    pos += n;
  }
  stream += sse_event(chat_chunk(id, 1, "m", 0, std::nullopt, std::nullopt, std::string("stop")));
  if (usage) stream += sse_event(usage_chunk(id, 1, "m", {5, 6, 0}, true));
  stream += sse_done();

  // Parse it back as a client would.
  std::vector<ojson> chunks;
  size_t pos = 0;
  bool done = false;
  while (pos < stream.size()) {
    RC_ASSERT(stream.compare(pos, 6, "data: ") == 0);
    const size_t end = stream.find("\n\n", pos);
    RC_ASSERT(end != std::string::npos);
    const std::string payload = stream.substr(pos + 6, end - pos - 6);
    RC_ASSERT(payload.find('\n') == std::string::npos);  // one line per event
    pos = end + 2;
    if (payload == "[DONE]") {
      done = true;
      RC_ASSERT(pos == stream.size());
      break;
    }
    chunks.push_back(ojson::parse(payload));
  }
  RC_ASSERT(done);
  std::string joined;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const ojson& c = chunks[i];
    RC_ASSERT(c["id"] == id);
    RC_ASSERT(c["object"] == "chat.completion.chunk");
    if (c["choices"].empty()) {  // the usage chunk, last before [DONE]
      RC_ASSERT(usage && i + 1 == chunks.size());
      RC_ASSERT(c["usage"]["total_tokens"] == 11);
      continue;
    }
    const ojson& d = c["choices"][0]["delta"];
    if (i == 0) RC_ASSERT(d["role"] == "assistant");
    if (d.contains("content")) joined += d["content"].get<std::string>();
    const bool last_content = i + 1 == chunks.size() - (usage ? 1 : 0);
    RC_ASSERT(c["choices"][0]["finish_reason"].is_null() != last_content);
  }
  RC_ASSERT(joined == text);
}

// The per-token fast path writes exactly the bytes of the general path, for any piece (quotes,
// backslashes, control characters, multi-byte UTF-8, invalid bytes) and either endpoint.
RC_GTEST_PROP(P02StreamingFormat, FastContentChunksEqualTheGeneralPath, ()) {
  const auto piece = *rc::gen::oneOf(rc::gen::container<std::string>(rc::gen::arbitrary<char>()),
                                     rc::gen::element<std::string>("\"", "\\", "\n\t", "\xc3\xa9", "\xe4\xb8\xad", "\xff"));
  const bool chat = *rc::gen::arbitrary<bool>();
  const int n = *rc::gen::inRange(1, 4);
  const int index = *rc::gen::inRange(0, n);
  const std::string id = new_id(chat ? "chatcmpl" : "cmpl");
  const ContentChunks fast(id, 1795676058, "m\"odel", chat, n);
  const std::string slow = chat ? sse_event(chat_chunk(id, 1795676058, "m\"odel", index, std::nullopt, piece, std::nullopt))
                                : sse_event(completion_chunk(id, 1795676058, "m\"odel", index, piece, std::nullopt));
  RC_ASSERT(fast.event(index, piece) == slow);
}

}  // namespace
}  // namespace cyllm::server

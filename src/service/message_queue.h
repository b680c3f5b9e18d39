// The message queue the scale-out runs on: NATS JetStream (libnats, used only from
// message_queue.cc). `serve --nats` publishes accepted declarations and scans; `worker` processes
// pull them from a durable consumer of their role and acknowledge each only after its result is
// committed to the store (docs/deployment.md).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "clearsight/status.h"

namespace clearsight::service {

// Subjects of the one stream, named by role.
inline constexpr char kDeclarationsSubject[] = "clearsight.declarations";
inline constexpr char kScansSubject[] = "clearsight.scans";

struct QueueOptions {
  std::string url;  // nats://host:port
  std::string stream = "CLEARSIGHT";
  int64_t ack_wait_ms = 30000;  // a message not acknowledged by then is delivered again
  int64_t publish_timeout_ms = 5000;
  int64_t duplicate_window_ms = 10 * 60 * 1000;  // the same Nats-Msg-Id in it is stored once
};

// One delivered message. Acknowledge, refuse for redelivery, or end it; the destructor does
// nothing (an unanswered message is delivered again after the acknowledgement wait).
class QueueMessage {
 public:
  virtual ~QueueMessage() = default;
  virtual const std::string& data() const = 0;
  virtual std::string header(const std::string& key) const = 0;  // "" when absent
  virtual int64_t deliveries() const = 0;                        // 1 on the first delivery
  virtual Status Ack() = 0;  // waits for the server's confirmation
  virtual Status Nak(int64_t delay_ms) = 0;
  virtual Status Term() = 0;  // never delivered again
};

class MessageQueue {
 public:
  // Connects (retrying in the background while the server is down) and makes sure the stream
  // exists with both subjects, file storage and work-queue retention.
  static Result<std::unique_ptr<MessageQueue>> Connect(const QueueOptions& options);
  virtual ~MessageQueue() = default;

  // Stored once the stream confirms it (file storage): then it is accepted. `msg_id` makes a
  // repeated publish within the duplicate window a no-op.
  virtual Status Publish(const std::string& subject, const std::string& data,
                         const std::string& msg_id,
                         const std::map<std::string, std::string>& headers) = 0;

  // Pull consumer for `subject`, durable under `durable` (shared by every worker of a role).
  // Fetch waits up to timeout_ms; an empty list when nothing came.
  virtual Status Subscribe(const std::string& subject, const std::string& durable) = 0;
  virtual Result<std::vector<std::unique_ptr<QueueMessage>>> Fetch(int max, int64_t timeout_ms) = 0;

  // Messages for the durable consumer not yet acknowledged (waiting or delivered), or an
  // error when the server cannot be asked.
  virtual Result<int64_t> Pending(const std::string& durable) = 0;
};

}  // namespace clearsight::service

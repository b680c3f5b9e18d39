// NATS JetStream adapter (libnats 3.4, Debian libnats-dev): the only file that includes nats.h.
// natsStatus values end here as Status; every handle is owned by a unique_ptr with its destroyer.
#include "service/message_queue.h"

#include <nats/nats.h>

#include <mutex>

namespace clearsight::service {
namespace {

constexpr int64_t kNsPerMs = 1000 * 1000;

Status NatsError(natsStatus s, jsErrCode jerr, const std::string& what) {
  std::string text = what + ": " + natsStatus_GetText(s);
  if (jerr != 0) text += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
  if (const char* last = nats_GetLastError(nullptr); last && *last)
    text += ": " + std::string(last);
  // A server that is down or restarting, or a timeout: the caller may try again.
  if (s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED ||
      s == NATS_NO_SERVER || s == NATS_NO_RESPONDERS || s == NATS_IO_ERROR ||
      s == NATS_STALE_CONNECTION)
    return Status::Unavailable("message queue: " + text);
  return Status::Internal("message queue: " + text);
}

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

class NatsMessage : public QueueMessage {
 public:
  NatsMessage(natsMsg* m, jsOptions* jo) : msg_(m), jo_(jo) {
    const char* d = natsMsg_GetData(m);
    data_.assign(d ? d : "", static_cast<size_t>(natsMsg_GetDataLength(m)));
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta) {
      deliveries_ = static_cast<int64_t>(meta->NumDelivered);
      jsMsgMetaData_Destroy(meta);
    }
  }
  const std::string& data() const override { return data_; }
  std::string header(const std::string& key) const override {
    const char* v = nullptr;
    if (natsMsgHeader_Get(msg_.get(), key.c_str(), &v) != NATS_OK || !v) return "";
    return v;
  }
  int64_t deliveries() const override { return deliveries_; }
  Status Ack() override {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = natsMsg_AckSync(msg_.get(), jo_, &jerr);
    return s == NATS_OK ? Status::Ok() : NatsError(s, jerr, "acknowledging a message");
  }
  Status Nak(int64_t delay_ms) override {
    natsStatus s = natsMsg_NakWithDelay(msg_.get(), delay_ms, jo_);
    return s == NATS_OK ? Status::Ok()
                        : NatsError(s, static_cast<jsErrCode>(0), "refusing a message");
  }
  Status Term() override {
    natsStatus s = natsMsg_Term(msg_.get(), jo_);
    return s == NATS_OK ? Status::Ok()
                        : NatsError(s, static_cast<jsErrCode>(0), "ending a message");
  }

 private:
  MsgPtr msg_;
  jsOptions* jo_;
  std::string data_;
  int64_t deliveries_ = 1;
};

class NatsQueue : public MessageQueue {
 public:
  explicit NatsQueue(QueueOptions o) : options_(std::move(o)) {}
  ~NatsQueue() override {
    // Destroy, never unsubscribe: unsubscribing a durable pull subscription deletes its consumer.
    if (sub_) natsSubscription_Destroy(sub_);
    if (js_) jsCtx_Destroy(js_);
    if (nc_) natsConnection_Destroy(nc_);
    if (opts_) natsOptions_Destroy(opts_);
  }

  Status Open() {
    natsStatus s = natsOptions_Create(&opts_);
    if (s == NATS_OK) s = natsOptions_SetURL(opts_, options_.url.c_str());
    // Reconnect for ever, every half second: a restarted server is found again without a person.
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts_, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts_, 500);
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts_, 5000);
    if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "options for " + options_.url);
    s = natsConnection_Connect(&nc_, opts_);
    if (s != NATS_OK)
      return NatsError(s, static_cast<jsErrCode>(0), "cannot connect to " + options_.url);
    jsOptions_Init(&jo_);
    jo_.Wait = options_.publish_timeout_ms;
    s = natsConnection_JetStream(&js_, nc_, &jo_);
    if (s != NATS_OK)
      return NatsError(s, static_cast<jsErrCode>(0),
                       "JetStream on " + options_.url + " (is the server started with -js?)");
    return EnsureStream();
  }

  Status Publish(const std::string& subject, const std::string& data, const std::string& msg_id,
                 const std::map<std::string, std::string>& headers) override {
    natsMsg* raw = nullptr;
    natsStatus s =
        natsMsg_Create(&raw, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
    if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "making a message");
    MsgPtr msg(raw);
    for (const auto& [k, v] : headers)
      if (s == NATS_OK) s = natsMsgHeader_Set(msg.get(), k.c_str(), v.c_str());
    if (s != NATS_OK) return NatsError(s, static_cast<jsErrCode>(0), "a message header");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msg_id.empty() ? nullptr : msg_id.c_str();
    po.MaxWait = options_.publish_timeout_ms;
    jsPubAck* ack = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    s = js_PublishMsg(&ack, js_, msg.get(), &po, &jerr);
    if (ack) jsPubAck_Destroy(ack);
    if (s != NATS_OK) return NatsError(s, jerr, "publishing to " + subject);
    return Status::Ok();
  }

  Status Subscribe(const std::string& subject, const std::string& durable) override {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = options_.stream.c_str();
    so.ManualAck = true;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = options_.ack_wait_ms * kNsPerMs;
    so.Config.MaxDeliver = -1;  // the worker decides when to give up on a message (Term)
    so.Config.MaxAckPending = 4096;
    durable_ = durable;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_PullSubscribe(&sub_, js_, subject.c_str(), durable.c_str(), &jo_, &so, &jerr);
    if (s != NATS_OK) return NatsError(s, jerr, "subscribing to " + subject + " as " + durable);
    return Status::Ok();
  }

  Result<std::vector<std::unique_ptr<QueueMessage>>> Fetch(int max, int64_t timeout_ms) override {
    if (!sub_) return Status::FailedPrecondition("message queue: fetch before subscribe");
    // What is there, up to `max`, without waiting; when nothing is, wait for the first message
    // only (a plain fetch of `max` would hold a lone message until the batch fills or the wait
    // ends: up to timeout_ms of latency at a low rate).
    natsMsgList list{};
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = max;
    req.NoWait = true;
    req.Expires = timeout_ms * kNsPerMs;
    natsStatus s = natsSubscription_FetchRequest(&list, sub_, &req);
    if (s == NATS_OK && list.Count == 0) natsMsgList_Destroy(&list);
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND || (s == NATS_OK && list.Count == 0)) {
      jsFetchRequest_Init(&req);
      req.Batch = 1;
      req.Expires = timeout_ms * kNsPerMs;
      list = natsMsgList{};
      s = natsSubscription_FetchRequest(&list, sub_, &req);
    }
    std::vector<std::unique_ptr<QueueMessage>> out;
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return out;
    if (s != NATS_OK) {
      natsMsgList_Destroy(&list);
      return NatsError(s, static_cast<jsErrCode>(0), "fetching from " + durable_);
    }
    out.reserve(static_cast<size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
      out.push_back(std::make_unique<NatsMessage>(list.Msgs[i], &jo_));
      list.Msgs[i] = nullptr;  // owned by the message now
    }
    natsMsgList_Destroy(&list);
    return out;
  }

  Result<int64_t> Pending(const std::string& durable) override {
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s =
        js_GetConsumerInfo(&ci, js_, options_.stream.c_str(), durable.c_str(), &jo_, &jerr);
    if (s != NATS_OK) return NatsError(s, jerr, "consumer " + durable);
    const int64_t n = static_cast<int64_t>(ci->NumPending) + ci->NumAckPending;
    jsConsumerInfo_Destroy(ci);
    return n;
  }

 private:
  Status EnsureStream() {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js_, options_.stream.c_str(), &jo_, &jerr);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      return Status::Ok();
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
      return NatsError(s, jerr, "stream " + options_.stream);
    const char* subjects[] = {kDeclarationsSubject, kScansSubject};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = options_.stream.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 2;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_WorkQueuePolicy;  // a message leaves once a worker acknowledged it
    cfg.Duplicates = options_.duplicate_window_ms * kNsPerMs;
    jerr = static_cast<jsErrCode>(0);
    s = js_AddStream(&si, js_, &cfg, &jo_, &jerr);
    if (si) jsStreamInfo_Destroy(si);
    if (s == NATS_OK || jerr == JSStreamNameExistErr) return Status::Ok();  // another process won
    return NatsError(s, jerr, "creating stream " + options_.stream);
  }

  QueueOptions options_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  jsOptions jo_{};
  natsSubscription* sub_ = nullptr;
  std::string durable_;
};

}  // namespace

Result<std::unique_ptr<MessageQueue>> MessageQueue::Connect(const QueueOptions& options) {
  auto q = std::make_unique<NatsQueue>(options);
  CS_RETURN_IF_ERROR(q->Open());
  return std::unique_ptr<MessageQueue>(std::move(q));
}

}  // namespace clearsight::service

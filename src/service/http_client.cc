// The client side of the cpp-httplib adapter (http_server.cc is the server side).
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "clearsight/client.h"

namespace clearsight {

struct ServiceClient::Impl {
  std::unique_ptr<httplib::Client> http;
  std::string token;
  std::string base;
};

ServiceClient::ServiceClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServiceClient::~ServiceClient() = default;

namespace {

// The API's one error shape: {"error":{"code":..,"message":..}}.
Status FromResponse(const httplib::Result& r, const std::string& what) {
  if (!r) return Status::IoError(what + ": no answer (" + httplib::to_string(r.error()) + ")");
  if (r->status >= 200 && r->status < 300) return Status::Ok();
  std::string message = r->body;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object())
    message = j["error"].value("message", r->body);
  StatusCode code = r->status == 401   ? StatusCode::kUnauthenticated
                    : r->status == 403 ? StatusCode::kPermissionDenied
                    : r->status == 404 ? StatusCode::kNotFound
                    : r->status == 409 ? StatusCode::kAlreadyExists
                    : r->status == 413 ? StatusCode::kResourceExhausted
                    : r->status >= 500 ? StatusCode::kInternal
                                       : StatusCode::kInvalidArgument;
  return Status(code, what + ": HTTP " + std::to_string(r->status) + ": " + message);
}

}  // namespace

Result<std::unique_ptr<ServiceClient>> ServiceClient::Connect(const ClientOptions& o) {
  if (o.base_url.rfind("http://", 0) != 0)
    return Status::InvalidArgument("server URL '" + o.base_url + "' must start with http://");
  auto impl = std::make_unique<Impl>();
  impl->base = o.base_url;
  impl->http = std::make_unique<httplib::Client>(o.base_url);
  if (!impl->http->is_valid())
    return Status::InvalidArgument("server URL '" + o.base_url + "' is not valid");
  impl->http->set_connection_timeout(10);
  impl->http->set_read_timeout(o.timeout_s);
  impl->http->set_write_timeout(o.timeout_s);
  impl->http->set_keep_alive(true);
  nlohmann::json body = {{"username", o.username}, {"password", o.password}};
  auto r = impl->http->Post("/api/login", body.dump(), "application/json");
  CS_RETURN_IF_ERROR(FromResponse(r, "login to " + o.base_url));
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("token"))
    return Status::Internal("login answer has no token: " + r->body);
  impl->token = j["token"].get<std::string>();
  impl->http->set_bearer_token_auth(impl->token);
  return std::unique_ptr<ServiceClient>(new ServiceClient(std::move(impl)));
}

Result<std::string> ServiceClient::PostDeclarations(std::string_view content,
                                                    std::string_view format) {
  std::string path = "/api/declarations";
  std::string type = "text/csv";
  std::string_view f = format;
  if (f == "auto") {
    // What the service would tell apart itself, said in the content type.
    size_t i = content.find_first_not_of(" \t\r\n");
    if (content.substr(0, 3) == "\xEF\xBB\xBF") i = content.find_first_not_of(" \t\r\n", 3);
    const char first = i == std::string_view::npos ? '\0' : content[i];
    f = first == '<' ? "xml" : first == '{' ? "jsonl" : "csv-auto";
  }
  if (f == "jsonl") {
    type = "application/x-ndjson";
  } else if (f == "xml" || f == "ead" || f == "h7xml") {
    type = "application/xml";
    if (f != "xml") path += "?format=" + std::string(f);
  } else if (f == "kcs" || f == "h7") {
    path += "?format=" + std::string(f);
  } else if (f == "csv-auto") {
    path += "?format=auto";
  } else if (f != "csv" && f != "native") {
    return Status::InvalidArgument("unknown declaration format '" + std::string(format) +
                                   "': csv, kcs, jsonl, ead, h7, h7xml or auto");
  }
  auto r = impl_->http->Post(path, std::string(content), type);
  CS_RETURN_IF_ERROR(FromResponse(r, "POST " + path));
  return r->body;
}

Result<std::string> ServiceClient::PostScan(std::string_view tiff, std::string_view sidecar) {
  httplib::MultipartFormDataItems items = {
      {"tiff", std::string(tiff), "scan.tif", "image/tiff"},
      {"sidecar", std::string(sidecar), "scan.json", "application/json"},
  };
  auto r = impl_->http->Post("/api/scans", items);
  CS_RETURN_IF_ERROR(FromResponse(r, "POST /api/scans"));
  return r->body;
}

Result<std::string> ServiceClient::PostJson(const std::string& path, const std::string& json) {
  auto r = impl_->http->Post(path, json, "application/json");
  CS_RETURN_IF_ERROR(FromResponse(r, "POST " + path));
  return r->body;
}

Result<std::string> ServiceClient::Get(const std::string& path) {
  auto r = impl_->http->Get(path);
  CS_RETURN_IF_ERROR(FromResponse(r, "GET " + path));
  return r->body;
}

}  // namespace clearsight

// Scans in (TIFF format v1 or DICOS), analysed when a calibration is configured, their findings
// fused into the consignment's decision; scans out as PNG renderings, per-pixel values and raw
// channels for the viewer.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <set>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "service/gzip.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;
using service::JsonResponse;

namespace {

std::string PartText(const HttpRequest& req, const std::string& name) {
  if (const auto* p = req.Part(name)) return std::string(Trim(p->content));
  return req.Query(name);
}

// A scan reader's error about an uploaded file, as the client should see it: damaged bytes are
// the client's mistake here (DataLoss is for damage on our own disk), and the message names the
// upload's parts instead of the temporary files they were read from.
Status UploadError(const Status& s,
                   const std::vector<std::pair<std::string, std::string>>& names = {}) {
  std::string message = s.message();
  for (const auto& [from, to] : names) {
    for (size_t at = message.find(from); at != std::string::npos;
         at = message.find(from, at + to.size()))
      message.replace(at, from.size(), to);
  }
  const StatusCode code =
      s.code() == StatusCode::kDataLoss ? StatusCode::kInvalidArgument : s.code();
  return Status(code, message);
}

// Reads a DICOS pair through temporary files (the DICOS reader works on paths).
Result<Scan> DecodeDicosPair(std::string_view low, std::string_view high,
                             const ScanReadOptions& ro) {
  char tmpl[] = "/tmp/cs_dicos_XXXXXX";
  if (!::mkdtemp(tmpl))
    return Status::IoError(std::string("cannot create a temporary directory: ") +
                           std::strerror(errno));
  std::string prefix = std::string(tmpl) + "/upload";
  DicosPaths paths = DicosPathsFor(prefix);
  Result<Scan> out = Status::Internal("unset");
  Status w = WriteFileAtomic(paths.low, low);
  if (w.ok()) w = WriteFileAtomic(paths.high, high);
  out = w.ok() ? ReadDicos(prefix, ro) : Result<Scan>(w);
  if (!out.ok() && w.ok())
    out = UploadError(out.status(), {{paths.low, "part 'dicos_low'"},
                                     {paths.high, "part 'dicos_high'"},
                                     {prefix, "the upload"},
                                     {tmpl, "the upload"}});
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return out;
}

}  // namespace

Result<Service::Impl::ScanEvidence> Service::Impl::AssessScan(const Scan& scan,
                                                              const Declaration* declared) {
  ScanEvidence out;
  auto analyse = [&]() -> Status {
    const auto t0 = std::chrono::steady_clock::now();
    ScanResult result;
    CS_RETURN_IF_ERROR(clearsight::AnalyzeScan(scan, Pipeline(), declared, &result));
    out.findings = FindingsFromScanAnalysis(result.analysis, declared);
    if (result.detection) {
      std::vector<Finding> threats =
          FindingsFromDetections(result.detection->detections, scan.meta.scan_id);
      out.findings.insert(out.findings.end(), threats.begin(), threats.end());
    }
    if (result.manifest) {
      std::vector<Finding> mismatch = FindingsFromManifest(*result.manifest);
      out.findings.insert(out.findings.end(), mismatch.begin(), mismatch.end());
    }
    metrics->scan_analysis_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    out.analysis_json = result.analysis.ToJson();  // with the detections and the manifest check
    return Status::Ok();
  };
  // On one of the analysis workers: at most options.analysis_threads scans analysed at once,
  // always on the same threads (service/worker_pool.h); without workers, on the calling thread.
  CS_RETURN_IF_ERROR(analysis_pool ? analysis_pool->Submit(analyse).get() : analyse());
  return out;
}

Result<std::vector<std::pair<EvidenceOrigin, std::string>>> Service::Impl::RecheckScans(
    const std::string& consignment_id, const Declaration& declared) {
  std::vector<std::pair<EvidenceOrigin, std::string>> out;
  if (!analyzer) return out;
  CS_ASSIGN_OR_RETURN(auto scans, store->ScansOf(consignment_id));
  if (scans.empty()) return out;
  CS_ASSIGN_OR_RETURN(auto known, store->GetDeclaration(declared.declaration_id));
  if (known) return out;  // a repeated declaration changes nothing
  for (const ScanRow& scan_row : scans) {
    CS_ASSIGN_OR_RETURN(auto cached, LoadScan(scan_row.scan_id));
    CS_ASSIGN_OR_RETURN(ScanEvidence evidence, AssessScan(cached->scan, &declared));
    out.emplace_back(EvidenceOrigin::Scan(scan_row.scan_id), FindingsToJson(evidence.findings));
  }
  return out;
}

Result<HttpResponse> Service::Impl::PostScan(const HttpRequest& req, const Caller& caller) {
  ScanReadOptions ro;
  ro.max_pixels = options.max_scan_pixels;
  ro.max_file_bytes = options.max_body_bytes;
  std::string scan_id = PartText(req, "scan_id");
  std::string consignment_id = PartText(req, "consignment_id");
  std::string pixel_mm = PartText(req, "pixel_mm");
  std::string_view tiff;
  std::string sidecar;
  const auto* low = req.Part("dicos_low");
  const auto* high = req.Part("dicos_high");
  if (const auto* p = req.Part("tiff"))
    tiff = p->content;
  else if (const auto* f = req.Part("file"))
    tiff = f->content;
  else if (!req.parts.empty() && !(low && high))
    return Status::InvalidArgument(
        "a multipart scan upload needs a 'tiff' part (with 'sidecar') or 'dicos_low' and "
        "'dicos_high' parts");
  else if (req.parts.empty())
    tiff = req.body;  // the TIFF itself as the body, meta in the query
  if (const auto* s = req.Part("sidecar"))
    sidecar = std::string(s->content);
  else if (req.HasQuery("sidecar"))
    sidecar = req.Query("sidecar");

  Result<Scan> decoded = Status::Internal("unset");
  std::string source_format;
  if (low && high) {
    source_format = "dicos";
    decoded = DecodeDicosPair(low->content, high->content, ro);
  } else {
    source_format = "tiff";
    if (tiff.empty())
      return Status::InvalidArgument(
          "no scan in the request: send a TIFF (format v1) or a DICOS pair");
    if (sidecar.empty()) {
      // No sidecar: build one from the fields.
      double mm = 0;
      if (scan_id.empty() || pixel_mm.empty() || !ParseDouble(pixel_mm, &mm))
        return Status::InvalidArgument(
            "without a sidecar, scan_id and pixel_mm are required (query or form fields)");
      json j = {{"scan_id", scan_id}, {"pixel_mm", mm}};
      if (!consignment_id.empty()) j["consignment_id"] = consignment_id;
      sidecar = j.dump();
    }
    decoded = DecodeScan(tiff, sidecar, scan_id.empty() ? "upload" : scan_id, ro);
    if (!decoded.ok()) decoded = UploadError(decoded.status());
  }
  if (!decoded.ok()) {
    metrics->scans.Add("result=\"invalid\"");
    return decoded.status();
  }
  Scan scan = std::move(decoded).value();
  if (!scan_id.empty() && scan_id != scan.meta.scan_id)
    return Status::InvalidArgument("scan_id '" + scan_id + "' differs from the sidecar's '" +
                                   scan.meta.scan_id + "'");
  if (!consignment_id.empty() && !scan.meta.consignment_id.empty() &&
      consignment_id != scan.meta.consignment_id)
    return Status::InvalidArgument("consignment_id '" + consignment_id +
                                   "' differs from the scan's '" + scan.meta.consignment_id + "'");
  if (scan.meta.consignment_id.empty()) scan.meta.consignment_id = consignment_id;
  if (scan.meta.consignment_id.empty())
    return Status::InvalidArgument(
        "the scan names no consignment: give consignment_id (sidecar or field)");
  if (!service::IsUrlSafeId(scan.meta.scan_id))
    return Status::InvalidArgument(
        "scan_id must be 1 to 128 characters of letters, digits and . _ : -");
  if (StartsWith(scan.meta.consignment_id, "training:"))
    return Status::InvalidArgument(
        "consignment ids starting with 'training:' are screener training's own");
  if (!service::IsPlainId(scan.meta.consignment_id))
    return Status::InvalidArgument(
        "consignment_id must be 1 to 256 characters without control characters");

  ScanRow row;
  row.scan_id = scan.meta.scan_id;
  row.consignment_id = scan.meta.consignment_id;
  row.source_format = source_format;
  row.meta_json = ScanMetaToJson(scan.meta);
  row.width = scan.width;
  row.height = scan.height;
  row.received_ms = NowMs();
  // Files first, durable before the database row that names them.
  auto store_files = [&]() -> Status {
    if (source_format == "dicos") {
      CS_ASSIGN_OR_RETURN(std::string a, store->PutImage(low->content));
      CS_ASSIGN_OR_RETURN(std::string b, store->PutImage(high->content));
      row.source_sha256 = {a, b};
      CS_ASSIGN_OR_RETURN(std::string canonical, EncodeScanTiff(scan));
      CS_ASSIGN_OR_RETURN(row.image_sha256, store->PutImage(canonical));
    } else {
      CS_ASSIGN_OR_RETURN(row.image_sha256, store->PutImage(tiff));
      row.source_sha256 = {row.image_sha256};
    }
    return Status::Ok();
  };
  if (queue) {
    // Scale-out: a worker of the scans role analyses it (the files travel by the shared image
    // directory, the message names them).
    CS_RETURN_IF_ERROR(store_files());
    return QueueScan(row, caller);
  }
  // Writing and syncing a scan's file (about 20-30 ms for 3 MB here) runs beside its analysis;
  // the row waits for both. (The future's destructor waits for the write on every early return,
  // so `scan` and the parts it reads stay alive.)
  std::future<Status> stored = std::async(std::launch::async, store_files);
  CS_ASSIGN_OR_RETURN(auto decided,
                      DecideScan(scan, row, caller.username, [&] { return stored.get(); }));
  json out = {{"result", decided.first},
              {"scan", service::ScanJson(row)},
              {"decision", service::DecisionJson(decided.second)}};
  return JsonResponse(decided.first == "created" ? 201 : 200, out);
}

Result<std::pair<std::string, DecisionRow>> Service::Impl::DecideScan(
    const Scan& scan, ScanRow& row, const std::string& actor,
    const std::function<Status()>& files_stored) {
  std::vector<Finding> findings;
  if (analyzer) {
    // The declared goods, when the declaration is already here, tell what the image should show.
    std::optional<Declaration> declared;
    CS_ASSIGN_OR_RETURN(auto decls, store->DeclarationsOf(row.consignment_id));
    if (!decls.empty()) {
      if (auto b = service::ParseStoredDeclaration(decls[0].json)) declared = b->rows[0];
    }
    CS_ASSIGN_OR_RETURN(ScanEvidence evidence, AssessScan(scan, declared ? &*declared : nullptr));
    row.analysis_json = std::move(evidence.analysis_json);
    findings = std::move(evidence.findings);
  }
  const std::string findings_json = FindingsToJson(findings);
  if (files_stored) CS_RETURN_IF_ERROR(files_stored());

  std::string result;
  DecisionRow decision;
  CS_RETURN_IF_ERROR(store->Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto existing, txn.GetScan(row.scan_id));
    if (existing) {
      if (existing->image_sha256 != row.image_sha256 ||
          existing->consignment_id != row.consignment_id)
        return Status::AlreadyExists("scan '" + row.scan_id +
                                     "' is already stored with other pixels or another "
                                     "consignment; a new scan needs a new scan_id");
      result = "unchanged";
      CS_ASSIGN_OR_RETURN(auto d, txn.GetDecision(row.consignment_id));
      if (!d) return Status::DataLoss("scan '" + row.scan_id + "' has no consignment decision");
      decision = *d;
      row = *existing;
      return Status::Ok();
    }
    CS_RETURN_IF_ERROR(txn.InsertScan(row));
    CS_ASSIGN_OR_RETURN(decision,
                        Refuse(txn, row.consignment_id, nullptr, std::nullopt, false, actor,
                               EvidenceOrigin::Scan(row.scan_id), findings, findings_json));
    result = "created";
    return Status::Ok();
  }));
  metrics->scans.Add("result=\"" + result + "\"");
  return std::make_pair(std::move(result), std::move(decision));
}

Result<std::shared_ptr<service::CachedScan>> Service::Impl::LoadScan(const std::string& scan_id) {
  {
    std::lock_guard lock(scan_cache_mu);
    for (auto it = scan_cache.begin(); it != scan_cache.end(); ++it)
      if (it->first == scan_id) {
        scan_cache.splice(scan_cache.begin(), scan_cache, it);
        return scan_cache.front().second;
      }
  }
  CS_ASSIGN_OR_RETURN(auto row, store->GetScan(scan_id));
  if (!row) return Status::NotFound("no scan '" + scan_id + "'");
  if (row->image_sha256.empty())  // an old training image, removed (--training-image-days)
    return Status::NotFound("scan '" + scan_id + "': its image was removed after the retention");
  CS_ASSIGN_OR_RETURN(std::string bytes, store->ReadImage(row->image_sha256));
  ScanReadOptions ro;
  ro.max_pixels = std::max<int64_t>(options.max_scan_pixels, int64_t{row->width} * row->height);
  CS_ASSIGN_OR_RETURN(Scan scan, DecodeScan(bytes, row->meta_json, scan_id, ro));
  auto cached = std::make_shared<service::CachedScan>();
  cached->row = *row;
  cached->scan = std::move(scan);
  std::lock_guard lock(scan_cache_mu);
  scan_cache.emplace_front(scan_id, cached);
  while (scan_cache.size() > 8) scan_cache.pop_back();
  return cached;
}

Result<const ScanAnalysis*> Service::Impl::ChannelsOf(service::CachedScan& cached) {
  if (!viewer_analyzer)
    return Status::FailedPrecondition(
        "no calibration is configured (serve --calibration FILE): material values "
        "are not available");
  std::lock_guard lock(cached.mu);
  if (!cached.channels) {
    auto a = std::make_unique<ScanAnalysis>();
    CS_RETURN_IF_ERROR(viewer_analyzer->Analyze(cached.scan, a.get()));
    cached.channels = std::move(a);
  }
  return cached.channels.get();
}

Result<HttpResponse> Service::Impl::GetScan(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto row, store->GetScan(req.path_params[0]));
  if (!row) return Status::NotFound("no scan '" + req.path_params[0] + "'");
  return JsonResponse(200, service::ScanJson(*row));
}

Result<HttpResponse> Service::Impl::GetScanImage(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto cached, LoadScan(req.path_params[0]));
  const std::string view = req.Query("view", "gray");
  auto number = [&](const char* key, double fallback) -> Result<double> {
    std::string v = req.Query(key);
    double d = fallback;
    if (!v.empty() && !ParseDouble(v, &d))
      return Status::InvalidArgument(std::string(key) + " must be a number");
    return d;
  };
  std::string png;
  if (view == "gray" || view == "high" || view == "low") {
    GrayRenderOptions o;
    o.use_low = view == "low";
    CS_ASSIGN_OR_RETURN(o.window, number("window", 0));
    CS_ASSIGN_OR_RETURN(o.level, number("level", 0.5));
    CS_ASSIGN_OR_RETURN(o.gamma, number("gamma", 1.0));
    if (o.gamma <= 0 || o.gamma > 10) return Status::InvalidArgument("gamma must be in (0, 10]");
    CS_ASSIGN_OR_RETURN(png, RenderGrayPng(cached->scan, o));
  } else if (view == "material") {
    CS_ASSIGN_OR_RETURN(const ScanAnalysis* a, ChannelsOf(*cached));
    MaterialRenderOptions o;
    o.outline_objects = req.Query("outline") == "1" || req.Query("outline") == "true";
    CS_ASSIGN_OR_RETURN(png, RenderMaterialPng(*a, o));
  } else {
    return Status::InvalidArgument("view must be gray, high, low or material");
  }
  HttpResponse res;
  res.content_type = "image/png";
  res.body = std::move(png);
  return res;
}

Result<HttpResponse> Service::Impl::GetScanPixel(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto cached, LoadScan(req.path_params[0]));
  int64_t x, y;
  if (!ParseInt64(req.Query("x"), &x) || !ParseInt64(req.Query("y"), &y))
    return Status::InvalidArgument("x and y are required whole numbers");
  const Scan& s = cached->scan;
  if (x < 0 || y < 0 || x >= s.width || y >= s.height)
    return Status::InvalidArgument("pixel (" + std::to_string(x) + ", " + std::to_string(y) +
                                   ") is outside the " + std::to_string(s.width) + "x" +
                                   std::to_string(s.height) + " scan");
  const size_t i = static_cast<size_t>(y) * static_cast<size_t>(s.width) + static_cast<size_t>(x);
  json out = {{"x", x},
              {"y", y},
              {"low", s.low[i]},
              {"high", s.high[i]},
              {"transmission_low", DecodeTransmission(s.low[i])},
              {"transmission_high", DecodeTransmission(s.high[i])}};
  if (viewer_analyzer) {
    CS_ASSIGN_OR_RETURN(const ScanAnalysis* a, ChannelsOf(*cached));
    const ScanChannels& c = a->channels;
    if (i < c.z_eff.size()) {
      out["log_low"] = c.log_low[i];
      out["log_high"] = c.log_high[i];
      out["z_eff"] = c.z_eff[i];
      out["areal_density_g_cm2"] = c.areal_density[i];
      out["material"] = std::string(MaterialClassName(static_cast<MaterialClass>(c.material[i])));
      out["object_id"] = c.labels[i];
    }
  }
  return JsonResponse(200, out);
}

Result<HttpResponse> Service::Impl::GetScanChannel(const HttpRequest& req, const Caller&) {
  CS_ASSIGN_OR_RETURN(auto cached, LoadScan(req.path_params[0]));
  const std::string& name = req.path_params[1];
  HttpResponse res;
  res.content_type = "application/octet-stream";
  std::string_view raw;
  auto bytes = [&](const auto& v, const char* dtype) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    raw = std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    res.headers.emplace_back("X-Dtype", dtype);
  };
  const Scan& s = cached->scan;
  if (name == "low") {
    bytes(s.low, "uint16");
  } else if (name == "high") {
    bytes(s.high, "uint16");
  } else {
    static const std::set<std::string> kNames = {"log_low",       "log_high", "z_eff",
                                                 "areal_density", "material", "labels"};
    if (!kNames.count(name))
      return Status::NotFound(
          "no channel '" + name +
          "' (low, high, log_low, log_high, z_eff, areal_density, material, labels)");
    CS_ASSIGN_OR_RETURN(const ScanAnalysis* a, ChannelsOf(*cached));
    const ScanChannels& c = a->channels;
    if (name == "log_low")
      bytes(c.log_low, "float32");
    else if (name == "log_high")
      bytes(c.log_high, "float32");
    else if (name == "z_eff")
      bytes(c.z_eff, "float32");
    else if (name == "areal_density")
      bytes(c.areal_density, "float32");
    else if (name == "material")
      bytes(c.material, "uint8");
    else
      bytes(c.labels, "int32");
  }
  res.headers.emplace_back("Vary", "Accept-Encoding");
  if (service::AcceptsGzip(req.header("Accept-Encoding"))) {
    // Compressed once per scan and channel while the scan stays in the cache (a 1024x768 scan's
    // channels are ~13 MB raw; label and material planes shrink the most).
    std::shared_ptr<const std::string> gz;
    {
      std::lock_guard lock(cached->mu);
      auto it = cached->gzipped.find(name);
      if (it != cached->gzipped.end()) gz = it->second;
    }
    if (!gz) {
      CS_ASSIGN_OR_RETURN(std::string packed, service::Gzip(raw, 1));
      gz = std::make_shared<const std::string>(std::move(packed));
      std::lock_guard lock(cached->mu);
      cached->gzipped.emplace(name, gz);
    }
    res.body = *gz;
    res.headers.emplace_back("Content-Encoding", "gzip");
  } else {
    res.body.assign(raw);
  }
  res.headers.emplace_back("X-Width", std::to_string(s.width));
  res.headers.emplace_back("X-Height", std::to_string(s.height));
  res.headers.emplace_back("Access-Control-Expose-Headers", "X-Width, X-Height, X-Dtype");
  return res;
}

Result<HttpResponse> Service::Impl::GetImage(const HttpRequest& req, const Caller&) {
  // ReadImage refuses anything but 64 lowercase hex digits, so no id can name another path.
  CS_ASSIGN_OR_RETURN(std::string bytes, store->ReadImage(req.path_params[0]));
  HttpResponse res;
  res.content_type = "application/octet-stream";
  res.body = std::move(bytes);
  res.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"" + req.path_params[0] + "\"");
  return res;
}

}  // namespace clearsight

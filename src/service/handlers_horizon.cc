// Horizon scanning on the store: GET /api/horizon (docs/api.md, Horizon; docs/horizon.md).
#include <chrono>
#include <set>

#include "clearsight/horizon.h"
#include "clearsight/horizon_store.h"
#include "clearsight/text.h"
#include "service/service_impl.h"

namespace clearsight {

using service::Caller;
using service::HttpRequest;
using service::HttpResponse;

namespace {
const std::set<std::string>& HorizonKinds() {
  static const std::set<std::string> kinds = {"volume_shift", "new_route",      "new_importer",
                                              "price_drop",   "hit_rate_shift", "finding_shift"};
  return kinds;
}
}  // namespace

Result<HttpResponse> Service::Impl::GetHorizon(const HttpRequest& req, const Caller&) {
  HorizonOptions o;
  if (!req.HasQuery("since") || !ParseDate(req.Query("since"), &o.since))
    return Status::InvalidArgument("since must be a date YYYY-MM-DD");
  if (req.HasQuery("baseline_weeks")) {
    int64_t weeks = 0;
    if (!ParseInt64(req.Query("baseline_weeks"), &weeks) || weeks < 4 ||
        weeks > service::kHorizonMaxBaselineWeeks)
      return Status::InvalidArgument("baseline_weeks must be a whole number 4.." +
                                     std::to_string(service::kHorizonMaxBaselineWeeks));
    o.baseline_weeks = static_cast<int>(weeks);
  }
  if (req.HasQuery("fdr") && (!ParseDouble(req.Query("fdr"), &o.fdr) ||
                              !(o.fdr >= kHorizonMinFdr && o.fdr <= kHorizonMaxFdr)))
    return Status::InvalidArgument("fdr must be a number 0.001..0.2");
  std::set<std::string> kinds;
  if (req.HasQuery("kinds")) {
    const std::string list = req.Query("kinds");
    for (std::string_view k : Split(list, ',')) {
      const std::string kind(Trim(k));
      if (kind.empty()) continue;
      if (!HorizonKinds().count(kind))
        return Status::InvalidArgument("unknown kind '" + Excerpt(kind, 40) +
                                       "': volume_shift, new_route, new_importer, price_drop, "
                                       "hit_rate_shift or finding_shift");
      kinds.insert(kind);
    }
  }
  // One scan at a time; a caller that waited finds the result of the one before it.
  std::lock_guard<std::mutex> lock(horizon_mu);
  const int64_t now = NowMs();
  if (!horizon_cache || horizon_cache->since != o.since ||
      horizon_cache->baseline_weeks != o.baseline_weeks || horizon_cache->fdr != o.fdr ||
      now - horizon_cache_ms > service::kHorizonCacheMs) {
    horizon_cache.reset();
    CS_ASSIGN_OR_RETURN(HorizonHistory history,
                        ReadHorizonHistory(*store, o, service::kHorizonMaxDeclarations));
    CS_ASSIGN_OR_RETURN(HorizonReport report, ScanHorizon(history.batch, history.scans, o));
    horizon_cache = std::make_shared<const HorizonReport>(std::move(report));
    horizon_cache_ms = now;
  }
  HorizonReport shown = *horizon_cache;
  if (!kinds.empty()) {
    std::erase_if(shown.signals, [&](const HorizonSignal& s) { return !kinds.count(s.kind); });
    std::erase_if(shown.tested, [&](const auto& t) { return !kinds.count(t.first); });
  }
  HttpResponse res;
  res.body = HorizonToJson(shown);
  res.headers.push_back({"Age", std::to_string((now - horizon_cache_ms) / 1000)});
  return res;
}

}  // namespace clearsight

// Threat image projection: the threat library and the projection itself.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "clearsight/file_util.h"
#include "clearsight/xray_tip.h"
#include "xray/physics/projector.h"
#include "xray/physics/random.h"

namespace clearsight {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool SafeName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  return s != "." && s != "..";
}

bool KnownClass(std::string_view c) {
  const auto& all = ThreatClasses();
  return std::find(all.begin(), all.end(), c) != all.end();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

float Bilinear(const std::vector<float>& img, int w, int h, double u, double v) {
  // u, v in pixel-centre coordinates of the patch.
  double fx = u - 0.5, fy = v - 0.5;
  int x0 = static_cast<int>(std::floor(fx)), y0 = static_cast<int>(std::floor(fy));
  double ax = fx - x0, ay = fy - y0;
  auto at = [&](int x, int y) -> double {
    return (x < 0 || y < 0 || x >= w || y >= h) ? 0.0 : img[static_cast<size_t>(y) * w + x];
  };
  return static_cast<float>((1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x0 + 1, y0)) +
                            ay * ((1 - ax) * at(x0, y0 + 1) + ax * at(x0 + 1, y0 + 1)));
}

}  // namespace

Result<ThreatPatch> RenderThreat(const MaterialThreat& threat, const ScannerResponse& response,
                                 const Calibration& calibration) {
  const size_t n = static_cast<size_t>(std::max(0, threat.width)) * std::max(0, threat.height);
  if (n == 0 || threat.layers.empty() || !(threat.pixel_mm > 0))
    return Status::InvalidArgument("threat '" + threat.name + "' is empty");
  const auto& kev = ScannerResponse::Energies();
  std::vector<std::vector<double>> mu;
  for (const auto& layer : threat.layers) {
    if (layer.g_cm2.size() != n)
      return Status::InvalidArgument("threat '" + threat.name + "': layer " + layer.recipe +
                                     " has " + std::to_string(layer.g_cm2.size()) +
                                     " pixels, the threat " + std::to_string(n));
    auto m = FormulaMassAttenuation(layer.recipe, kev);
    if (!m.ok()) return m.status().WithContext("threat '" + threat.name + "'");
    mu.push_back(std::move(*m));
  }
  ThreatPatch p;
  p.name = threat.name;
  p.threat_class = threat.threat_class;
  p.width = threat.width;
  p.height = threat.height;
  p.pixel_mm = threat.pixel_mm;
  p.mass_kg = threat.mass_kg;
  p.log_low.assign(n, 0.0f);
  p.log_high.assign(n, 0.0f);
  // A ray through one material only (most of a threat's) is read from a table of that material's
  // log attenuations over areal density (geometric steps of 1 %, linear between them); a ray
  // through several is computed whole.
  std::vector<double> tau(kev.size());
  auto exact = [&](const std::vector<std::pair<size_t, double>>& amounts) {
    std::fill(tau.begin(), tau.end(), 0.0);
    for (const auto& [l, g] : amounts)
      for (size_t k = 0; k < tau.size(); ++k) tau[k] += mu[l][k] * g;
    return response.LogAttenuations(tau);
  };
  constexpr double kGridMin = 1e-4, kGridStep = 1.01;
  const double log_step = std::log(kGridStep);
  std::vector<std::vector<std::pair<double, double>>> table(mu.size());
  for (size_t l = 0; l < mu.size(); ++l) {
    const float top =
        *std::max_element(threat.layers[l].g_cm2.begin(), threat.layers[l].g_cm2.end());
    for (double g = kGridMin; table[l].empty() || g / kGridStep <= top; g *= kGridStep)
      table[l].push_back(exact({{l, g}}));
  }
  std::vector<std::pair<size_t, double>> amounts;
  for (size_t i = 0; i < n; ++i) {
    amounts.clear();
    for (size_t l = 0; l < mu.size(); ++l)
      if (const double g = threat.layers[l].g_cm2[i]; g > 0) amounts.emplace_back(l, g);
    if (amounts.empty()) continue;
    std::pair<double, double> la;
    if (amounts.size() > 1) {
      la = exact(amounts);
    } else {
      const auto& t = table[amounts[0].first];
      const double g = amounts[0].second;
      const double x = std::log(std::max(g, kGridMin) / kGridMin) / log_step;
      const size_t j = std::min(static_cast<size_t>(x), t.size() - 1);
      const size_t j1 = std::min(j + 1, t.size() - 1);
      const double f = std::clamp(x - static_cast<double>(j), 0.0, 1.0);
      la = {t[j].first + f * (t[j1].first - t[j].first),
            t[j].second + f * (t[j1].second - t[j].second)};
      if (g < kGridMin) la = {la.first * g / kGridMin, la.second * g / kGridMin};
    }
    p.log_low[i] = static_cast<float>(la.first);
    p.log_high[i] = static_cast<float>(la.second);
  }
  // The scanner's own edge spread, so the projected threat is as sharp as what it scans: the
  // detector blurs intensity, so the absorbed share 1 - T is blurred, not the log.
  std::vector<float> scratch;
  for (auto [img, sigma] : {std::pair{&p.log_low, calibration.blur_sigma_low()},
                            std::pair{&p.log_high, calibration.blur_sigma_high()}}) {
    for (auto& v : *img) v = static_cast<float>(-std::expm1(-static_cast<double>(v)));
    xray::GaussianBlur(img, p.width, p.height, sigma, &scratch);
    for (auto& v : *img)
      v = static_cast<float>(-std::log1p(-std::min(0.999999f, std::max(0.0f, v))));
  }
  return p;
}

Status ThreatLibrary::Add(ThreatPatch patch) {
  if (!SafeName(patch.name))
    return Status::InvalidArgument("threat patch name '" + patch.name + "' is not [A-Za-z0-9._-]");
  if (!KnownClass(patch.threat_class))
    return Status::InvalidArgument("unknown threat class '" + patch.threat_class + "'");
  size_t n = static_cast<size_t>(std::max(0, patch.width)) * std::max(0, patch.height);
  if (n == 0 || patch.log_low.size() != n || patch.log_high.size() != n || !(patch.pixel_mm > 0))
    return Status::InvalidArgument("threat patch '" + patch.name +
                                   "' is empty or its sizes disagree");
  for (const auto& p : patches_)
    if (p.name == patch.name)
      return Status::AlreadyExists("threat patch '" + patch.name + "' is already in the library");
  patches_.push_back(std::move(patch));
  return Status::Ok();
}

Status ThreatLibrary::AddCutout(const Scan& scan, int x0, int y0, int x1, int y1,
                                std::string threat_class, std::string name, double min_log_high) {
  CS_RETURN_IF_ERROR(ValidateScan(scan));
  if (x0 < 0 || y0 < 0 || x1 > scan.width || y1 > scan.height || x1 - x0 < 5 || y1 - y0 < 5)
    return Status::InvalidArgument("cut-out region must lie inside the scan and be at least 5x5");
  const int w = x1 - x0, h = y1 - y0;
  auto lg = [](uint16_t v) { return -std::log(v / 65535.0); };
  std::vector<double> border_low, border_high;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x)
      if (x < x0 + 2 || y < y0 + 2 || x >= x1 - 2 || y >= y1 - 2) {
        size_t i = static_cast<size_t>(y) * scan.width + x;
        border_low.push_back(lg(scan.low[i]));
        border_high.push_back(lg(scan.high[i]));
      }
  double bl = Median(border_low), bh = Median(border_high);
  ThreatPatch p;
  p.name = std::move(name);
  p.threat_class = std::move(threat_class);
  p.width = w;
  p.height = h;
  p.pixel_mm = scan.meta.pixel_mm;
  p.log_low.assign(static_cast<size_t>(w) * h, 0.0f);
  p.log_high.assign(p.log_low.size(), 0.0f);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      size_t i = static_cast<size_t>(y + y0) * scan.width + (x + x0),
             j = static_cast<size_t>(y) * w + x;
      double hh = lg(scan.high[i]) - bh;
      if (hh < min_log_high) continue;
      p.log_high[j] = static_cast<float>(hh);
      p.log_low[j] = static_cast<float>(std::max(0.0, lg(scan.low[i]) - bl));
    }
  return Add(std::move(p));
}

std::vector<const ThreatPatch*> ThreatLibrary::OfClass(std::string_view threat_class) const {
  std::vector<const ThreatPatch*> out;
  for (const auto& p : patches_)
    if (p.threat_class == threat_class) out.push_back(&p);
  return out;
}

Status ThreatLibrary::Save(const std::string& dir) const {
  CS_RETURN_IF_ERROR(MakeDirs(dir));
  for (const auto& p : patches_) {
    Scan s;
    s.width = p.width;
    s.height = p.height;
    s.low.resize(p.log_low.size());
    s.high.resize(p.log_high.size());
    for (size_t i = 0; i < s.low.size(); ++i) {
      s.low[i] = EncodeTransmission(std::exp(-static_cast<double>(p.log_low[i])));
      s.high[i] = EncodeTransmission(std::exp(-static_cast<double>(p.log_high[i])));
    }
    s.meta.scan_id = p.name;
    s.meta.pixel_mm = p.pixel_mm;
    s.meta.device = "threat library";
    s.meta.extra_json =
        json{{"threat_class", p.threat_class}, {"threat_name", p.name}, {"mass_kg", p.mass_kg}}
            .dump();
    CS_RETURN_IF_ERROR(WriteScan(s, (fs::path(dir) / (p.name + ".tif")).string()));
  }
  return Status::Ok();
}

Result<ThreatLibrary> ThreatLibrary::Load(const std::string& dir) {
  CS_ASSIGN_OR_RETURN(auto files, ListScans(dir));
  ThreatLibrary lib;
  for (const auto& f : files) {
    CS_ASSIGN_OR_RETURN(Scan s, ReadScan(f));
    if (s.meta.extra_json.empty()) continue;
    json e = json::parse(s.meta.extra_json, nullptr, false);
    if (!e.is_object() || !e.contains("threat_class")) continue;
    ThreatPatch p;
    p.name = e.value("threat_name", s.meta.scan_id);
    p.threat_class = e.value("threat_class", "");
    p.mass_kg = e.value("mass_kg", 0.0);
    p.width = s.width;
    p.height = s.height;
    p.pixel_mm = s.meta.pixel_mm;
    p.log_low.resize(s.low.size());
    p.log_high.resize(s.high.size());
    for (size_t i = 0; i < s.low.size(); ++i) {
      p.log_low[i] =
          s.low[i] >= kScanPixelMax ? 0.0f : static_cast<float>(-std::log(s.low[i] / 65535.0));
      p.log_high[i] =
          s.high[i] >= kScanPixelMax ? 0.0f : static_cast<float>(-std::log(s.high[i] / 65535.0));
    }
    CS_RETURN_IF_ERROR(lib.Add(std::move(p)).WithContext(f));
  }
  if (lib.patches().empty())
    return Status::NotFound(dir + ": no threat patches (scans with threat_class)");
  return lib;
}

Result<ProjectedThreat> ProjectThreat(const ThreatPatch& patch, const ProjectOptions& o,
                                      Scan* scan) {
  CS_RETURN_IF_ERROR(ValidateScan(*scan));
  if (patch.width <= 0 || patch.height <= 0 || !(patch.pixel_mm > 0))
    return Status::InvalidArgument("empty threat patch");
  if (!(o.scale > 0.05 && o.scale < 20))
    return Status::InvalidArgument("scale must lie in 0.05..20");
  const double s = patch.pixel_mm / scan->meta.pixel_mm * o.scale;  // scan pixels per patch pixel
  const double th = o.rotation_deg * 3.14159265358979323846 / 180.0;
  const double c = std::cos(th), sn = std::sin(th);
  const double hw = patch.width * s / 2, hh = patch.height * s / 2;
  const double ex = hw * std::abs(c) + hh * std::abs(sn), ey = hw * std::abs(sn) + hh * std::abs(c);
  int bx0 = std::max(0, static_cast<int>(std::floor(o.x - ex))),
      by0 = std::max(0, static_cast<int>(std::floor(o.y - ey)));
  int bx1 = std::min(scan->width, static_cast<int>(std::ceil(o.x + ex)) + 1);
  int by1 = std::min(scan->height, static_cast<int>(std::ceil(o.y + ey)) + 1);
  if (bx1 <= bx0 || by1 <= by0)
    return Status::InvalidArgument("the threat would fall outside the scan");
  xray::Rng rng(o.seed);
  ProjectedThreat out;
  out.name = patch.name;
  out.threat_class = patch.threat_class;
  int mx0 = scan->width, my0 = scan->height, mx1 = 0, my1 = 0;
  for (int y = by0; y < by1; ++y) {
    int run_start = -1;
    for (int x = bx0; x <= bx1; ++x) {
      bool in = false;
      if (x < bx1) {
        double dx = x + 0.5 - o.x, dy = y + 0.5 - o.y;
        double u = (c * dx + sn * dy) / s + patch.width / 2.0,
               v = (-sn * dx + c * dy) / s + patch.height / 2.0;
        float add_low = Bilinear(patch.log_low, patch.width, patch.height, u, v);
        float add_high = Bilinear(patch.log_high, patch.width, patch.height, u, v);
        if (add_low > 0 || add_high > 0) {
          size_t i = static_cast<size_t>(y) * scan->width + x;
          for (int ch = 0; ch < 2; ++ch) {
            uint16_t& px = ch == 0 ? scan->low[i] : scan->high[i];
            double t = std::exp(-static_cast<double>(ch == 0 ? add_low : add_high));
            double v0 = px / 65535.0, v1 = v0 * t;
            if (o.photons_per_pixel > 0)
              v1 += std::sqrt(std::max(0.0, v0 * t * (1 - t) / o.photons_per_pixel)) * rng.Normal();
            px = EncodeTransmission(v1);
          }
        }
        in = add_high >= o.mask_min_log_high;
      }
      if (in && run_start < 0) run_start = x;
      if (!in && run_start >= 0) {
        out.mask_rle.push_back(
            static_cast<uint32_t>(static_cast<size_t>(y) * scan->width + run_start));
        out.mask_rle.push_back(static_cast<uint32_t>(x - run_start));
        mx0 = std::min(mx0, run_start);
        mx1 = std::max(mx1, x);
        my0 = std::min(my0, y);
        my1 = std::max(my1, y + 1);
        run_start = -1;
      }
    }
  }
  if (mx1 > mx0) {
    out.x0 = mx0;
    out.y0 = my0;
    out.x1 = mx1;
    out.y1 = my1;
  }
  return out;
}

}  // namespace clearsight

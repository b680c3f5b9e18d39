// Threat image projection: the threat library and the projection itself.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
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

// Blurs a log-attenuation image as a detector blurs: the detector blurs intensity, so the
// absorbed share 1 - T is blurred, not the log.
void BlurAbsorbed(std::vector<float>* log_att, int w, int h, double sigma,
                  std::vector<float>* scratch) {
  if (sigma <= 0.05) return;
  for (auto& v : *log_att) v = static_cast<float>(-std::expm1(-static_cast<double>(v)));
  xray::GaussianBlur(log_att, w, h, sigma, scratch);
  for (auto& v : *log_att)
    v = static_cast<float>(-std::log1p(-std::min(0.999999f, std::max(0.0f, v))));
}

// Each layer's mass attenuation over ScannerResponse::Energies(); InvalidArgument for an empty
// threat, a layer of another size or a recipe that does not parse.
Result<std::vector<std::vector<double>>> LayerAttenuations(const MaterialThreat& threat) {
  const size_t n = static_cast<size_t>(std::max(0, threat.width)) * std::max(0, threat.height);
  if (n == 0 || threat.layers.empty() || !(threat.pixel_mm > 0))
    return Status::InvalidArgument("threat '" + threat.name + "' is empty");
  std::vector<std::vector<double>> mu;
  for (const auto& layer : threat.layers) {
    if (layer.g_cm2.size() != n)
      return Status::InvalidArgument("threat '" + threat.name + "': layer " + layer.recipe +
                                     " has " + std::to_string(layer.g_cm2.size()) +
                                     " pixels, the threat " + std::to_string(n));
    auto m = FormulaMassAttenuation(layer.recipe, ScannerResponse::Energies());
    if (!m.ok()) return m.status().WithContext("threat '" + threat.name + "'");
    mu.push_back(std::move(*m));
  }
  return mu;
}

}  // namespace

Result<ThreatPatch> RenderThreat(const MaterialThreat& threat, const ScannerResponse& response,
                                 const Calibration& calibration) {
  CS_ASSIGN_OR_RETURN(const std::vector<std::vector<double>> mu, LayerAttenuations(threat));
  const size_t n = static_cast<size_t>(threat.width) * threat.height;
  const auto& kev = ScannerResponse::Energies();
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
  // The scanner's own edge spread, so the projected threat is as sharp as what it scans.
  std::vector<float> scratch;
  BlurAbsorbed(&p.log_low, p.width, p.height, calibration.blur_sigma_low(), &scratch);
  BlurAbsorbed(&p.log_high, p.width, p.height, calibration.blur_sigma_high(), &scratch);
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

namespace {

// The projection of a threat `width` x `height` pixels of `pixel_mm`: `fill(u, v, i, add)` gives
// the threat's log attenuation (low, high) at patch coordinates (u, v) over scan pixel i in
// add[0..1], and in add[2..3] the quantum-noise variance the projection must add, as a share of
// the air's times the scan's transmission there (when the fill knows it; else left below 0, and
// t (1 - t) is taken: variance in proportion to the signal).
// `own_mask` (width x height, may be empty) is where the threat counts as present.
template <typename Fill>
Result<ProjectedThreat> ProjectResampled(int width, int height, double pixel_mm,
                                         const std::string& name, const std::string& threat_class,
                                         const std::vector<uint8_t>& own_mask, ProjectOptions o,
                                         Scan* scan, Fill fill) {
  CS_RETURN_IF_ERROR(ValidateScan(*scan));
  if (width <= 0 || height <= 0 || !(pixel_mm > 0))
    return Status::InvalidArgument("empty threat patch");
  if (!(o.scale > 0.05 && o.scale < 20))
    return Status::InvalidArgument("scale must lie in 0.05..20");
  if (o.on_scan_grid) {
    // Patch pixel (i, j) on scan pixel (x, y): u - 0.5 = i exactly, so no resampling.
    o.rotation_deg = 0;
    o.x = std::round(o.x - width / 2.0) + width / 2.0;
    o.y = std::round(o.y - height / 2.0) + height / 2.0;
  }
  if (!own_mask.empty() && own_mask.size() != static_cast<size_t>(width) * height)
    return Status::InvalidArgument("threat '" + name + "': its mask does not match its size");
  // Scan pixels per patch pixel.
  const double s = o.on_scan_grid ? 1.0 : pixel_mm / scan->meta.pixel_mm * o.scale;
  const double th = o.rotation_deg * 3.14159265358979323846 / 180.0;
  const double c = std::cos(th), sn = std::sin(th);
  const double hw = width * s / 2, hh = height * s / 2;
  const double ex = hw * std::abs(c) + hh * std::abs(sn), ey = hw * std::abs(sn) + hh * std::abs(c);
  // With the scanner's blur, the box grows by the blur's reach.
  const ScannerImaging im = o.imaging.value_or(ScannerImaging{});
  const double sigma[2] = {im.blur_sigma_low, im.blur_sigma_high};
  const double air_sd[2] = {im.air_sd_low, im.air_sd_high};
  const int margin =
      o.imaging ? static_cast<int>(std::ceil(3 * std::max({sigma[0], sigma[1], 0.0}))) + 1 : 0;
  int bx0 = std::max(0, static_cast<int>(std::floor(o.x - ex)) - margin),
      by0 = std::max(0, static_cast<int>(std::floor(o.y - ey)) - margin);
  int bx1 = std::min(scan->width, static_cast<int>(std::ceil(o.x + ex)) + 1 + margin);
  int by1 = std::min(scan->height, static_cast<int>(std::ceil(o.y + ey)) + 1 + margin);
  if (bx1 <= bx0 || by1 <= by0)
    return Status::InvalidArgument("the threat would fall outside the scan");
  const int bw = bx1 - bx0, bh = by1 - by0;
  const size_t bn = static_cast<size_t>(bw) * bh;
  // The threat's log attenuation resampled onto the scan's pixels of the box; the mask from it
  // before any blur (where the threat is, not where its blur reaches).
  std::vector<float> add[2] = {std::vector<float>(bn), std::vector<float>(bn)};
  std::vector<float> noise_missing[2] = {std::vector<float>(bn, -1.0f),
                                         std::vector<float>(bn, -1.0f)};
  std::vector<uint8_t> inside(bn);
  for (int y = by0; y < by1; ++y)
    for (int x = bx0; x < bx1; ++x) {
      const double dx = x + 0.5 - o.x, dy = y + 0.5 - o.y;
      const double u = (c * dx + sn * dy) / s + width / 2.0,
                   v = (-sn * dx + c * dy) / s + height / 2.0;
      const size_t j = static_cast<size_t>(y - by0) * bw + (x - bx0);
      float a[4] = {0, 0, -1, -1};
      fill(u, v, static_cast<size_t>(y) * scan->width + x, a);
      add[0][j] = a[0];
      add[1][j] = a[1];
      noise_missing[0][j] = a[2];
      noise_missing[1][j] = a[3];
      if (own_mask.empty()) {
        inside[j] = add[1][j] >= o.mask_min_log_high;
      } else {
        const int pu = static_cast<int>(std::floor(u)), pv = static_cast<int>(std::floor(v));
        inside[j] = pu >= 0 && pv >= 0 && pu < width && pv < height &&
                    own_mask[static_cast<size_t>(pv) * width + pu];
      }
    }
  xray::Rng rng(o.seed);
  std::vector<float> noise[2], scratch;
  if (o.imaging) {
    // The noise the attenuated region lacks, drawn from the threat's transmission before the
    // blur (as a detector's noise arises) and blurred like the scan's. The scan's own noise,
    // attenuated by t, keeps t^2 of its variance; a ray through the threat would have had more.
    for (int ch = 0; ch < 2; ++ch) {
      noise[ch].assign(bn, 0.0f);
      const std::vector<uint16_t>& page = ch == 0 ? scan->low : scan->high;
      for (int y = by0; y < by1; ++y)
        for (int x = bx0; x < bx1; ++x) {
          const size_t j = static_cast<size_t>(y - by0) * bw + (x - bx0);
          if (!(add[ch][j] > 0)) continue;
          const double v0 = page[static_cast<size_t>(y) * scan->width + x] / 65535.0;
          const double t = std::exp(-static_cast<double>(add[ch][j]));
          const double missing = noise_missing[ch][j] >= 0 ? noise_missing[ch][j] : t * (1 - t);
          const double e = im.electronic_sd;
          noise[ch][j] =
              static_cast<float>(std::sqrt(std::max(0.0, air_sd[ch] * air_sd[ch] * v0 * missing +
                                                             e * e * (1 - t * t))) *
                                 rng.Normal());
        }
      xray::GaussianBlur(&noise[ch], bw, bh, sigma[ch], &scratch);
    }
    // Bilinear resampling at a random sub-pixel offset already blurs by a variance of 1/6 pixel^2
    // per axis on average: the patch gets only the rest of the scanner's blur (on the scan's grid
    // there is no resampling: the whole blur).
    const double resampling = o.on_scan_grid ? 0.0 : 1.0 / 6;
    if (!o.patch_blurred)
      for (int ch = 0; ch < 2; ++ch)
        BlurAbsorbed(&add[ch], bw, bh, std::sqrt(std::max(0.0, sigma[ch] * sigma[ch] - resampling)),
                     &scratch);
  }
  // Scatter, as the scanner spreads it: before the threat (from the scan's absorbed share) and
  // after it (the box's pixels attenuated by the threat), per channel, over the box.
  std::vector<float> scatter_before[2], scatter_after[2];
  if (o.imaging && im.scatter_fraction > 0) {
    for (int ch = 0; ch < 2; ++ch) {
      const std::vector<uint16_t>& page = ch == 0 ? scan->low : scan->high;
      std::vector<float> before(page.size()), after;
      for (size_t i = 0; i < page.size(); ++i) before[i] = page[i] / 65535.0f;
      after = before;
      for (int y = by0; y < by1; ++y)
        for (int x = bx0; x < bx1; ++x)
          after[static_cast<size_t>(y) * scan->width + x] *=
              std::exp(-add[ch][static_cast<size_t>(y - by0) * bw + (x - bx0)]);
      for (auto [from, to] :
           {std::pair{&before, &scatter_before[ch]}, std::pair{&after, &scatter_after[ch]}}) {
        std::vector<float> field(page.size(), 0.0f);
        xray::AddScatter(*from, scan->width, scan->height, im.scatter_fraction, &field);
        to->resize(bn);
        for (int y = by0; y < by1; ++y)
          for (int x = bx0; x < bx1; ++x)
            (*to)[static_cast<size_t>(y - by0) * bw + (x - bx0)] =
                field[static_cast<size_t>(y) * scan->width + x];
      }
    }
  }
  ProjectedThreat out;
  out.name = name;
  out.threat_class = threat_class;
  int mx0 = scan->width, my0 = scan->height, mx1 = 0, my1 = 0;
  for (int y = by0; y < by1; ++y) {
    int run_start = -1;
    for (int x = bx0; x <= bx1; ++x) {
      bool in = false;
      if (x < bx1) {
        const size_t j = static_cast<size_t>(y - by0) * bw + (x - bx0);
        if (add[0][j] > 0 || add[1][j] > 0) {
          size_t i = static_cast<size_t>(y) * scan->width + x;
          for (int ch = 0; ch < 2; ++ch) {
            uint16_t& px = ch == 0 ? scan->low[i] : scan->high[i];
            double t = std::exp(-static_cast<double>(add[ch][j]));
            double v0 = px / 65535.0, v1 = v0 * t;
            if (o.imaging) {
              // The threat attenuates the primary; the scatter is the scanner's, after it.
              const double s0 = scatter_before[ch].empty() ? 0 : scatter_before[ch][j];
              const double s1 = scatter_after[ch].empty() ? 0 : scatter_after[ch][j];
              v1 = std::max(0.0, v0 - s0) * t + s1 + noise[ch][j];
            } else if (o.photons_per_pixel > 0)
              v1 += std::sqrt(std::max(0.0, v0 * t * (1 - t) / o.photons_per_pixel)) * rng.Normal();
            px = EncodeTransmission(v1);
          }
        }
        in = inside[j];
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

}  // namespace

Result<ProjectedThreat> ProjectThreat(const ThreatPatch& patch, const ProjectOptions& o,
                                      Scan* scan) {
  return ProjectResampled(patch.width, patch.height, patch.pixel_mm, patch.name, patch.threat_class,
                          {}, o, scan, [&](double u, double v, size_t, float* a) {
                            a[0] = Bilinear(patch.log_low, patch.width, patch.height, u, v);
                            a[1] = Bilinear(patch.log_high, patch.width, patch.height, u, v);
                          });
}

Result<ProjectedThreat> ProjectMaterialThreat(const MaterialThreat& threat,
                                              const ScannerResponse& response,
                                              const ProjectOptions& o, Scan* scan) {
  CS_ASSIGN_OR_RETURN(const std::vector<std::vector<double>> mu, LayerAttenuations(threat));
  const auto& kev = ScannerResponse::Energies();
  // What the scan holds along each ray, as the polyethylene that attenuates its high image as
  // much: a table of log attenuations over areal density (geometric steps of 2 %).
  CS_ASSIGN_OR_RETURN(const std::vector<double> mu_pe, FormulaMassAttenuation("C2H4", kev));
  std::vector<double> tau(kev.size());
  const bool scatter_apart = o.imaging && o.imaging->scatter_fraction > 0;
  // tau: the optical depth of `g_pe` of polyethylene and the threat's `amounts`.
  auto depth = [&](double g_pe, const std::vector<std::pair<size_t, double>>& amounts) {
    for (size_t k = 0; k < tau.size(); ++k) {
      tau[k] = mu_pe[k] * g_pe;
      for (const auto& [l, g] : amounts) tau[k] += mu[l][k] * g;
    }
  };
  // With the scanner's scatter modelled apart (imaging), the primary beam alone: the fitted floor
  // would count the scatter twice and cap a dense threat's attenuation.
  auto attenuations = [&] {
    return scatter_apart ? response.PrimaryLogAttenuations(tau) : response.LogAttenuations(tau);
  };
  struct Step {
    double g, low, high, noise_low, noise_high;
  };
  std::vector<Step> table{{0, 0, 0, 1, 1}};
  for (double g = 1e-3; g < 300; g *= 1.02) {
    depth(g, {});
    const auto [l, h] = attenuations();
    if (h <= table.back().high) break;
    const auto [nl, nh] = response.NoiseTransmissions(tau);
    table.push_back({g, l, h, nl, nh});
  }
  std::vector<std::pair<size_t, double>> amounts;
  return ProjectResampled(
      threat.width, threat.height, threat.pixel_mm, threat.name, threat.threat_class, threat.mask,
      o, scan, [&](double u, double v, size_t i, float* a) {
        amounts.clear();
        for (size_t l = 0; l < mu.size(); ++l) {
          const double g = Bilinear(threat.layers[l].g_cm2, threat.width, threat.height, u, v);
          if (g > 0) amounts.emplace_back(l, g);
        }
        if (amounts.empty()) return;
        const double bg_high = -std::log(std::max<uint16_t>(1, scan->high[i]) / 65535.0);
        auto it = std::upper_bound(table.begin(), table.end(), bg_high,
                                   [](double h, const Step& st) { return h < st.high; });
        Step bg = table.back();
        if (it == table.begin()) {
          bg = table.front();
        } else if (it != table.end()) {
          const Step& lo = *(it - 1);
          const double f = (bg_high - lo.high) / (it->high - lo.high);
          bg = {lo.g + f * (it->g - lo.g), lo.low + f * (it->low - lo.low), bg_high,
                lo.noise_low + f * (it->noise_low - lo.noise_low),
                lo.noise_high + f * (it->noise_high - lo.noise_high)};
        }
        depth(bg.g, amounts);
        const auto [l, h] = attenuations();
        a[0] = static_cast<float>(std::max(0.0, l - bg.low));
        a[1] = static_cast<float>(std::max(0.0, h - bg.high));
        if (o.imaging) {
          // An energy-integrating detector's variance weighs photons by energy squared: through
          // the background (V0) and through it and the threat (V1), from the scanner's response.
          // The scan holds t^2 V0 behind the threat; V1 - t^2 V0 is missing, here as a share of
          // the background's transmission T0 (the scan's value stands for T0 in the projection).
          const auto [nl, nh] = response.NoiseTransmissions(tau);
          const double v1[2] = {nl, nh}, v0[2] = {bg.noise_low, bg.noise_high};
          const double t[2] = {std::exp(-static_cast<double>(a[0])),
                               std::exp(-static_cast<double>(a[1]))};
          const double t0[2] = {std::exp(-bg.low), std::exp(-bg.high)};
          for (int ch = 0; ch < 2; ++ch)
            a[2 + ch] = static_cast<float>(
                std::max(0.0, (v1[ch] - t[ch] * t[ch] * v0[ch]) / std::max(t0[ch], 1e-12)));
        }
      });
}

Result<std::pair<double, double>> EstimateAirNoise(const Scan& scan, double blur_sigma_low,
                                                   double blur_sigma_high, double electronic_sd) {
  CS_RETURN_IF_ERROR(ValidateScan(scan));
  double out[2] = {0, 0};
  for (int ch = 0; ch < 2; ++ch) {
    const std::vector<uint16_t>& page = ch == 0 ? scan.low : scan.high;
    size_t at_one = 0;
    std::vector<uint16_t> below;
    const uint16_t floor = EncodeTransmission(0.85);
    for (uint16_t v : page) {
      if (v == kScanPixelMax)
        ++at_one;
      else if (v >= floor)
        below.push_back(v);
    }
    if (at_one < 2000)
      return Status::FailedPrecondition(
          "scan '" + scan.meta.scan_id + "': " + std::to_string(at_one) +
          " open-beam pixels, too few to measure the scanner's noise (2,000 needed)");
    // As many air pixels below 1 as at it; half a standard deviation below 1 holds 38.29 % of
    // them (a band narrow enough that thin goods reading just below 1 hardly count in it).
    const size_t k = static_cast<size_t>(std::lround(0.3829 * static_cast<double>(at_one)));
    if (below.size() <= k)
      return Status::FailedPrecondition("scan '" + scan.meta.scan_id +
                                        "': its open beam does not show a noise spread");
    std::nth_element(below.begin(), below.begin() + static_cast<std::ptrdiff_t>(k), below.end(),
                     std::greater<>());
    const double sd_blurred = 2 * (1.0 - below[k] / 65535.0);
    // The detector's blur keeps sum(kernel^2) of white noise's variance.
    const double sigma = ch == 0 ? blur_sigma_low : blur_sigma_high;
    std::vector<float> delta(1, 1.0f), scratch;
    if (sigma > 0.05) {
      const int r = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
      delta.assign(static_cast<size_t>(2 * r + 1) * (2 * r + 1), 0.0f);
      delta[static_cast<size_t>(r) * (2 * r + 1) + r] = 1.0f;
      xray::GaussianBlur(&delta, 2 * r + 1, 2 * r + 1, sigma, &scratch);
    }
    double kept = 0;
    for (float v : delta) kept += static_cast<double>(v) * v;
    const double sd = sd_blurred / std::sqrt(kept);
    out[ch] = std::sqrt(std::max(0.0, sd * sd - electronic_sd * electronic_sd));
  }
  return std::pair{out[0], out[1]};
}

}  // namespace clearsight

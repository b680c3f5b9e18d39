// The fast analyzer. Row bands run on `threads` threads in five stages separated by barriers:
//   1 log attenuation through a 65536-entry table, horizontal smoothing (5 taps)
//   2 vertical smoothing, histogram of the parcel's log_high (packaging level)
//   3 z_eff and areal density through 2D tables, material class, object runs per row
//   4 (one thread) connected components over the runs, small fragments absorbed by a neighbour
//   5 label image and per-object statistics
// Object z_eff and mass then come from the calibration itself, not from the tables.
#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

#include "clearsight/xray_analyze.h"
#include "xray/analyze/analysis_internal.h"

namespace clearsight {

using xray::ObjectStats;

namespace {

constexpr int kZH = 128;  // log_high bins of the z table
constexpr int kZR = 512;  // ratio bins
constexpr int kKH = 128;  // log_high bins of the kappa table
constexpr int kKZ = 128;  // z bins
constexpr double kTableMaxH = 10.0;

struct Run {
  int32_t y, x0, x1;  // [x0, x1)
  uint8_t key;        // material class of the run's pixels
};

struct UnionFind {
  std::vector<int32_t> parent;
  int32_t Find(int32_t a) {
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
  }
  void Unite(int32_t a, int32_t b) {
    a = Find(a);
    b = Find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
};

// Per calling thread: buffers reused from one scan to the next (no page faults once warm).
struct Scratch {
  std::vector<float> raw_l, raw_h, hl, hh, sl, sh;
  std::vector<int32_t> labels;
  std::vector<float> z, ad;
  std::vector<uint8_t> material, key_row;
  std::vector<std::vector<Run>> runs;
  std::vector<std::vector<std::pair<int32_t, int32_t>>>
      touches;  // runs of different keys that touch
  std::vector<std::vector<ObjectStats>> stats;
  std::vector<std::array<double, xray::kPackagingBins>> hist_n, hist_l;
  std::vector<int64_t> parcel_n;
  std::vector<int32_t> run_label;
};

}  // namespace

struct Analyzer::Tables {
  float log_lut[65536];
  float z_lut[kZH * kZR];
  float kappa_lut[kKH * kKZ];
  float r0 = 0, r_scale = 1;
  float z0 = 0, z_scale = 1;
};

Analyzer::Analyzer(Calibration calibration, const AnalyzerOptions& options)
    : calibration_(std::move(calibration)), options_(options) {}
Analyzer::~Analyzer() = default;

Result<std::unique_ptr<Analyzer>> Analyzer::Create(Calibration calibration,
                                                   const AnalyzerOptions& options) {
  if (options.threads < 1 || options.threads > 64)
    return Status::InvalidArgument("threads must be 1..64");
  if (!(options.min_object_log_high > 0))
    return Status::InvalidArgument("min_object_log_high must be > 0");
  if (options.min_object_pixels < 1)
    return Status::InvalidArgument("min_object_pixels must be >= 1");
  if (calibration.curves().size() < 2)
    return Status::InvalidArgument("calibration has fewer than 2 materials");
  std::unique_ptr<Analyzer> a(new Analyzer(std::move(calibration), options));
  auto t = std::make_unique<Tables>();
  for (int v = 0; v < 65536; ++v)
    t->log_lut[v] = static_cast<float>(-std::log(std::max(v, 1) / 65535.0));
  const Calibration& c = a->calibration_;
  double rmin = 1e9, rmax = 0;
  for (const auto& curve : c.curves())
    for (const auto& p : curve.points) {
      rmin = std::min(rmin, p.log_low / p.log_high);
      rmax = std::max(rmax, p.log_low / p.log_high);
    }
  t->r0 = static_cast<float>(rmin * 0.7);
  t->r_scale = static_cast<float>(kZR / (rmax * 1.3 - rmin * 0.7));
  for (int ih = 0; ih < kZH; ++ih) {
    double h = (ih + 0.5) * kTableMaxH / kZH;
    for (int ir = 0; ir < kZR; ++ir) {
      double r = t->r0 + (ir + 0.5) / t->r_scale;
      t->z_lut[ih * kZR + ir] = static_cast<float>(c.ZEff(r * h, h));
    }
  }
  t->z0 = static_cast<float>(c.min_z());
  t->z_scale = static_cast<float>(kKZ / (c.max_z() - c.min_z()));
  for (int ih = 0; ih < kKH; ++ih) {
    double h = (ih + 0.5) * kTableMaxH / kKH;
    for (int iz = 0; iz < kKZ; ++iz) {
      double z = t->z0 + (iz + 0.5) / t->z_scale;
      t->kappa_lut[ih * kKZ + iz] = static_cast<float>(c.ArealDensity(h, z) / h);
    }
  }
  a->tables_ = std::move(t);
  return a;
}

Result<ScanAnalysis> Analyzer::Analyze(const Scan& scan) const {
  ScanAnalysis out;
  CS_RETURN_IF_ERROR(Analyze(scan, &out));
  return out;
}

Status Analyzer::Analyze(const Scan& scan, ScanAnalysis* out) const {
  const auto t_start = std::chrono::steady_clock::now();
  if (scan.width <= 0 || scan.height <= 0 || scan.low.size() != scan.pixels() ||
      scan.high.size() != scan.pixels())
    return Status::InvalidArgument("scan '" + scan.meta.scan_id + "' is malformed (page sizes)");
  const int w = scan.width, h = scan.height;
  const size_t n = scan.pixels();
  const AnalyzerOptions& o = options_;
  const Tables& T = *tables_;
  const Calibration& calib = calibration_;

  static thread_local Scratch cached;
  Scratch local;
  Scratch& S = n <= (size_t{16} << 20) ? cached : local;
  const int threads = std::max(1, std::min(o.threads, h / 8 + 1));

  out->scan_id = scan.meta.scan_id;
  out->consignment_id = scan.meta.consignment_id;
  out->width = w;
  out->height = h;
  out->pixel_mm = scan.meta.pixel_mm;
  out->objects.clear();
  out->materials = {};
  out->extra_fields.clear();
  ScanChannels& ch = out->channels;
  const bool keep = o.keep_channels;
  if (keep) {
    ch.log_low.resize(n);
    ch.log_high.resize(n);
    ch.z_eff.resize(n);
    ch.areal_density.resize(n);
    ch.material.resize(n);
    ch.labels.resize(n);
  } else {
    ch = ScanChannels{};
    S.raw_l.resize(n);
    S.raw_h.resize(n);
    S.labels.resize(n);
    S.z.resize(n);
    S.ad.resize(n);
    S.material.resize(n);
  }
  float* raw_l = keep ? ch.log_low.data() : S.raw_l.data();
  float* raw_h = keep ? ch.log_high.data() : S.raw_h.data();
  int32_t* labels = keep ? ch.labels.data() : S.labels.data();
  float* z_ch = keep ? ch.z_eff.data() : S.z.data();
  float* ad_ch = keep ? ch.areal_density.data() : S.ad.data();
  uint8_t* mat_ch = keep ? ch.material.data() : S.material.data();
  S.key_row.resize(static_cast<size_t>(w) * threads);
  S.hl.resize(n);
  S.hh.resize(n);
  S.sl.resize(n);
  S.sh.resize(n);
  S.runs.resize(threads);
  S.touches.resize(threads);
  S.stats.resize(threads);
  S.hist_n.resize(threads);
  S.hist_l.resize(threads);
  S.parcel_n.assign(threads, 0);

  float pkg_l = 0, pkg_h = 0;
  int32_t n_objects = 0;
  const float air = static_cast<float>(o.air_log_high);
  const float thr = static_cast<float>(o.min_object_log_high);
  const uint16_t imp_px = static_cast<uint16_t>(std::clamp(o.impenetrable_low_pixel, 0, 65535));
  const float l_sat = static_cast<float>(std::min(calib.low_saturation_log(), 1e30));
  const float organic_max = static_cast<float>(calib.options().organic_max_z);
  const float metal_min = static_cast<float>(calib.options().metal_min_z);

  auto band = [&](int t, int* y0, int* y1) {
    *y0 = static_cast<int>(static_cast<int64_t>(h) * t / threads);
    *y1 = static_cast<int>(static_cast<int64_t>(h) * (t + 1) / threads);
  };

  float kl[5], kh[5];
  xray::SmoothingKernels(calib, kl, kh);
  std::barrier sync(threads);
  auto worker = [&](int t) {
    int y0, y1;
    band(t, &y0, &y1);
    // Stage 1: log attenuation and horizontal sums.
    for (int y = y0; y < y1; ++y) {
      const size_t row = static_cast<size_t>(y) * w;
      const uint16_t* lo = scan.low.data() + row;
      const uint16_t* hi = scan.high.data() + row;
      float* rl = raw_l + row;
      float* rh = raw_h + row;
      for (int x = 0; x < w; ++x) {
        rl[x] = T.log_lut[lo[x]];
        rh[x] = T.log_lut[hi[x]];
      }
      float* al = S.hl.data() + row;
      float* ah = S.hh.data() + row;
      auto at = [w](int x) { return std::clamp(x, 0, w - 1); };
      for (int x = 0; x < std::min(2, w); ++x) {
        al[x] = ah[x] = 0;
        for (int k = 0; k < 5; ++k) {
          al[x] += kl[k] * rl[at(x + k - 2)];
          ah[x] += kh[k] * rh[at(x + k - 2)];
        }
      }
      for (int x = 2; x < w - 2; ++x) {
        al[x] = kl[0] * rl[x - 2] + kl[1] * rl[x - 1] + kl[2] * rl[x] + kl[3] * rl[x + 1] +
                kl[4] * rl[x + 2];
        ah[x] = kh[0] * rh[x - 2] + kh[1] * rh[x - 1] + kh[2] * rh[x] + kh[3] * rh[x + 1] +
                kh[4] * rh[x + 2];
      }
      for (int x = std::max(2, w - 2); x < w; ++x) {
        al[x] = ah[x] = 0;
        for (int k = 0; k < 5; ++k) {
          al[x] += kl[k] * rl[at(x + k - 2)];
          ah[x] += kh[k] * rh[at(x + k - 2)];
        }
      }
    }
    sync.arrive_and_wait();
    // Stage 2: vertical sums, packaging histogram.
    auto& hn = S.hist_n[t];
    auto& hlsum = S.hist_l[t];
    hn.fill(0);
    hlsum.fill(0);
    int64_t parcel = 0;
    for (int y = y0; y < y1; ++y) {
      const float* cl[5];
      const float* chh[5];
      for (int k = 0; k < 5; ++k) {
        size_t r = static_cast<size_t>(std::clamp(y + k - 2, 0, h - 1)) * w;
        cl[k] = S.hl.data() + r;
        chh[k] = S.hh.data() + r;
      }
      float* sl = S.sl.data() + static_cast<size_t>(y) * w;
      float* sh = S.sh.data() + static_cast<size_t>(y) * w;
      for (int x = 0; x < w; ++x) {
        sl[x] = kl[0] * cl[0][x] + kl[1] * cl[1][x] + kl[2] * cl[2][x] + kl[3] * cl[3][x] +
                kl[4] * cl[4][x];
        sh[x] = kh[0] * chh[0][x] + kh[1] * chh[1][x] + kh[2] * chh[2][x] + kh[3] * chh[3][x] +
                kh[4] * chh[4][x];
      }
      if (y & 1) continue;  // the packaging histogram samples every other row and column
      for (int x = 0; x < w; x += 2) {
        if (sh[x] < air) continue;
        ++parcel;
        int b = static_cast<int>(sh[x] * (1.0f / static_cast<float>(xray::kPackagingBinWidth)));
        if (b < xray::kPackagingBins) {
          hn[b] += 1;
          hlsum[b] += sl[x];
        }
      }
    }
    S.parcel_n[t] = parcel;
    sync.arrive_and_wait();
    // Packaging level (every thread computes the same numbers from the merged histogram): a low
    // percentile of the thin parcel pixels, when there are enough of them to be packaging.
    float my_pkg_h = 0, my_pkg_l = 0;
    {
      const int thin_bins =
          std::min(xray::kPackagingBins,
                   static_cast<int>(o.max_packaging_log_high / xray::kPackagingBinWidth));
      double parcel_total = 0, thin = 0;
      for (int k = 0; k < threads; ++k) parcel_total += S.parcel_n[k];
      for (int b = 0; b < thin_bins; ++b)
        for (int k = 0; k < threads; ++k) thin += S.hist_n[k][b];
      if (thin >= std::max(250.0, xray::kPackagingMinShare * parcel_total)) {
        double target = thin * xray::kPackagingPercentile, acc = 0, sum_l = 0, sum_h = 0;
        for (int b = 0; b < thin_bins; ++b) {
          double cnt = 0, sl_b = 0;
          for (int k = 0; k < threads; ++k) {
            cnt += S.hist_n[k][b];
            sl_b += S.hist_l[k][b];
          }
          acc += cnt;
          sum_l += sl_b;
          sum_h += cnt * (b + 0.5) * xray::kPackagingBinWidth;
          if (acc >= target && acc > 0) {
            my_pkg_h = static_cast<float>((b + 0.5) * xray::kPackagingBinWidth);
            my_pkg_l = sum_h > 0 ? static_cast<float>(my_pkg_h * sum_l / sum_h) : my_pkg_h;
            break;
          }
        }
      }
      if (t == 0) {
        pkg_h = my_pkg_h;
        pkg_l = my_pkg_l;
      }
    }
    // Stage 3: classification and runs.
    auto& runs = S.runs[t];
    runs.clear();
    uint8_t* keys = S.key_row.data() + static_cast<size_t>(t) * w;
    const float half_thr = 0.5f * thr;
    const float zh_scale = kZH / static_cast<float>(kTableMaxH),
                kh_scale = kKH / static_cast<float>(kTableMaxH);
    const float r0 = T.r0, r_scale = T.r_scale, z0 = T.z0, z_scale = T.z_scale;
    const float* z_lut = T.z_lut;
    const float* kappa_lut = T.kappa_lut;
    for (int y = y0; y < y1; ++y) {
      const size_t row = static_cast<size_t>(y) * w;
      const float* sl = S.sl.data() + row;
      const float* sh = S.sh.data() + row;
      const uint16_t* lo = scan.low.data() + row;
      float* zc = z_ch + row;
      float* adc = ad_ch + row;
      uint8_t* mc = mat_ch + row;
      std::fill(labels + row, labels + row + w, 0);
      for (int x = 0; x < w; ++x) {
        const float hs = sh[x];
        float z = 0, ad = 0;
        uint8_t cls = 0, key = 0;
        if (hs >= air) {
          const float hh = hs - my_pkg_h, ll = sl[x] - my_pkg_l;
          const bool sub = hh >= half_thr;
          const float zh = sub ? hh : hs, zl = sub ? ll : sl[x];
          const int ih = std::min(kZH - 1, static_cast<int>(zh * zh_scale));
          const int ir = std::clamp(static_cast<int>((zl / zh - r0) * r_scale), 0, kZR - 1);
          z = z_lut[ih * kZR + ir];
          // Branch-free: noisy thin regions flip these conditions from pixel to pixel.
          cls = static_cast<uint8_t>(1 + (z >= organic_max) + (z >= metal_min));
          const uint8_t imp = static_cast<uint8_t>((lo[x] <= imp_px) | (sl[x] > l_sat));
          cls = static_cast<uint8_t>(cls + imp * (4 - cls));
          const int kh = std::min(kKH - 1, static_cast<int>(hs * kh_scale));
          const int kz = std::clamp(static_cast<int>((z - z0) * z_scale), 0, kKZ - 1);
          ad = hs * kappa_lut[kh * kKZ + kz];
          key = static_cast<uint8_t>(cls & -static_cast<uint8_t>(hh >= thr));
        }
        zc[x] = z;
        adc[x] = ad;
        mc[x] = cls;
        keys[x] = key;
      }
      for (int x = 0; x < w;) {
        const uint8_t k = keys[x];
        if (!k) {
          ++x;
          continue;
        }
        int start = x;
        while (x < w && keys[x] == k) ++x;
        runs.push_back({y, start, x, k});
      }
    }
    sync.arrive_and_wait();
    // Stage 4: components (one thread).
    if (t == 0) {
      size_t total_runs = 0;
      for (const auto& r : S.runs) total_runs += r.size();
      UnionFind uf;
      uf.parent.resize(total_runs);
      std::iota(uf.parent.begin(), uf.parent.end(), 0);
      std::vector<std::pair<int32_t, int32_t>>& touch = S.touches[0];
      touch.clear();
      // Flatten run index: band order is row order.
      std::vector<const Run*> all;
      all.reserve(total_runs);
      for (const auto& r : S.runs)
        for (const auto& run : r) all.push_back(&run);
      size_t prev_begin = 0, prev_end = 0, cur = 0;
      while (cur < all.size()) {
        int y = all[cur]->y;
        size_t cur_end = cur;
        while (cur_end < all.size() && all[cur_end]->y == y) ++cur_end;
        bool prev_is_above = prev_end > prev_begin && all[prev_begin]->y == y - 1;
        for (size_t i = cur; i < cur_end; ++i) {
          if (i > cur && all[i - 1]->x1 == all[i]->x0)
            touch.push_back({static_cast<int32_t>(i - 1), static_cast<int32_t>(i)});
          if (!prev_is_above) continue;
          for (size_t j = prev_begin; j < prev_end; ++j) {
            if (all[j]->x1 < all[i]->x0) continue;  // 8-connected: x1 == x0 touches diagonally
            if (all[j]->x0 > all[i]->x1) break;
            if (all[j]->key == all[i]->key)
              uf.Unite(static_cast<int32_t>(i), static_cast<int32_t>(j));
            else
              touch.push_back({static_cast<int32_t>(i), static_cast<int32_t>(j)});
          }
        }
        prev_begin = cur;
        prev_end = cur_end;
        cur = cur_end;
      }
      std::vector<int64_t> size(total_runs, 0);
      auto count_sizes = [&] {
        std::fill(size.begin(), size.end(), 0);
        for (size_t i = 0; i < total_runs; ++i)
          size[uf.Find(static_cast<int32_t>(i))] += all[i]->x1 - all[i]->x0;
      };
      count_sizes();
      std::vector<int32_t> best(total_runs, -1);
      std::vector<int64_t> best_size(total_runs, 0);
      std::vector<uint8_t> best_key(total_runs, 0);
      // 1. Saturated (impenetrable) regions belong to the densest thing they touch: the blurred rim
      //    of a steel part, the inside of a thick ceramic wall.
      auto offer_dense = [&](int32_t x, int32_t y) {
        uint8_t kx = all[x]->key, ky = all[y]->key;
        if (kx != 4 || ky == 4) return;
        if (ky > best_key[x] || (ky == best_key[x] && size[y] > best_size[x])) {
          best[x] = y;
          best_key[x] = ky;
          best_size[x] = size[y];
        }
      };
      for (const auto& [a, b] : touch) {
        int32_t ra = uf.Find(a), rb = uf.Find(b);
        if (ra == rb) continue;
        offer_dense(ra, rb);
        offer_dense(rb, ra);
      }
      for (size_t i = 0; i < total_runs; ++i)
        if (best[i] >= 0 && uf.Find(static_cast<int32_t>(i)) == static_cast<int32_t>(i))
          uf.parent[i] = uf.Find(best[i]);
      count_sizes();
      // 2. Fragments below the minimum size, and halos (thin rings of another class that partial
      //    pixels leave around an object), join their largest touching neighbour.
      std::vector<xray::Box> box(total_runs);
      for (size_t i = 0; i < total_runs; ++i) box[uf.Find(static_cast<int32_t>(i))].Add(*all[i]);
      std::fill(best.begin(), best.end(), -1);
      std::fill(best_size.begin(), best_size.end(), 0);
      auto offer_small = [&](int32_t x, int32_t y) {
        if (size[y] < o.min_object_pixels || size[y] <= best_size[x]) return;
        bool fragment = size[x] < o.min_object_pixels;
        bool halo = xray::IsHalo(size[x], box[x], size[y], box[y]);
        if (fragment || halo) {
          best[x] = y;
          best_size[x] = size[y];
        }
      };
      for (const auto& [a, b] : touch) {
        int32_t ra = uf.Find(a), rb = uf.Find(b);
        if (ra == rb) continue;
        offer_small(ra, rb);
        offer_small(rb, ra);
      }
      for (size_t i = 0; i < total_runs; ++i)
        if (best[i] >= 0 && uf.Find(static_cast<int32_t>(i)) == static_cast<int32_t>(i))
          uf.parent[i] = uf.Find(best[i]);
      count_sizes();
      // Compact ids in raster order of first appearance.
      std::vector<int32_t> id(total_runs, 0);
      S.run_label.assign(total_runs, 0);
      int32_t next = 0;
      for (size_t i = 0; i < total_runs; ++i) {
        int32_t r = uf.Find(static_cast<int32_t>(i));
        if (size[r] < o.min_object_pixels) continue;
        if (!id[r]) id[r] = ++next;
        S.run_label[i] = id[r];
      }
      n_objects = next;
    }
    sync.arrive_and_wait();
    // Stage 5: labels and per-object statistics.
    size_t first = 0;
    for (int k = 0; k < t; ++k) first += S.runs[k].size();
    auto& st = S.stats[t];
    st.assign(static_cast<size_t>(n_objects) + 1, ObjectStats{});
    const auto& runs5 = S.runs[t];
    for (size_t i = 0; i < runs5.size(); ++i) {
      int32_t id = S.run_label[first + i];
      if (!id) continue;
      const Run& r = runs5[i];
      const size_t row = static_cast<size_t>(r.y) * w;
      ObjectStats& os = st[id];
      for (int x = r.x0; x < r.x1; ++x) {
        labels[row + x] = id;
        os.Add(x, r.y, raw_l[row + x] - my_pkg_l, raw_h[row + x] - my_pkg_h, mat_ch[row + x] == 4);
      }
    }
  };

  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& th : pool) th.join();

  out->packaging_log_low = pkg_l;
  out->packaging_log_high = pkg_h;
  for (int32_t id = 1; id <= n_objects; ++id) {
    ObjectStats s;
    for (int t = 0; t < threads; ++t) s.Merge(S.stats[t][id]);
    if (s.n == 0) continue;
    out->objects.push_back(xray::MakeObject(calib, id, s, scan.meta.pixel_mm, -1));
  }
  xray::FinishObjects(out);
  out->ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
  return Status::Ok();
}

}  // namespace clearsight

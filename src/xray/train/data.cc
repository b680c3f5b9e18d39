// The plan and load phases of the detector's training: which scans train and which validate, the
// threat-image-projected (TIP) copies of clean training scans, and each scan or copy turned into
// feature grids and cell labels; the augmented crops the network trains on.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <thread>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/xray_analyze.h"
#include "clearsight/xray_scan.h"
#include "xray/detect/features.h"
#include "xray/train/train_internal.h"

namespace clearsight::xray {

namespace fs = std::filesystem;

namespace {

// Features are kept as 16-bit codes (v = code / 4096 - 4) to halve the memory of a large set.
constexpr float kQuantScale = 4096.0f, kQuantOffset = 4.0f;
uint16_t Quantize(float v) {
  return static_cast<uint16_t>(std::clamp((v + kQuantOffset) * kQuantScale + 0.5f, 0.0f, 65535.0f));
}
float Dequantize(uint16_t q) { return q / kQuantScale - kQuantOffset; }

// The library's patches of a class; with max_kg > 0 only those of known mass up to max_kg.
std::vector<const ThreatPatch*> PatchesOf(const ThreatLibrary& library, const std::string& cls,
                                          double max_kg) {
  auto patches = library.OfClass(cls);
  if (max_kg > 0)
    std::erase_if(patches,
                  [&](const ThreatPatch* p) { return !(p->mass_kg > 0 && p->mass_kg <= max_kg); });
  return patches;
}

// A library with a patch of every class the copies may ask for.
Status CheckLibrary(const ThreatLibrary& library, const TrainDataOptions& o) {
  if (library.patches().empty())
    return Status::InvalidArgument("threat image projection needs a threat library");
  const double max_kg = o.tip_max_kg.value_or(0);
  for (const auto& c : o.tip_classes.empty() ? ThreatClasses() : o.tip_classes)
    if (PatchesOf(library, c, max_kg).empty())
      return Status::InvalidArgument(
          "the threat library has no patch of class " + c +
          (max_kg > 0 ? " of known mass up to " + FormatFixed(max_kg, 3) + " kg" : ""));
  return Status::Ok();
}

// The first source's library without a directory of its own: patches simulated at the pixel size
// of its first scan, 40 per class.
Result<ThreatLibrary> SimulatedLibrary(const std::string& data_dir, uint64_t seed) {
  CS_ASSIGN_OR_RETURN(auto scans, ListScans(data_dir));
  if (scans.empty()) return Status::InvalidArgument(data_dir + ": no scans");
  CS_ASSIGN_OR_RETURN(Scan first_scan, ReadScan(scans.front()));
  SimulateOptions so;
  so.seed = seed;
  so.pixel_mm = first_scan.meta.pixel_mm;
  CS_ASSIGN_OR_RETURN(auto sim, Simulator::Create(so));
  return sim->MakeThreatLibrary(40);
}

// One work item to a sample; `library`: the TIP copy's patches.
Status LoadItem(const WorkItem& item, const ThreatLibrary* library, const Analyzer& analyzer,
                const std::vector<std::string>& goods_classes, uint64_t item_seed, Sample* out) {
  CS_ASSIGN_OR_RETURN(Scan scan, ReadScan(item.path));
  const std::string truth_path =
      (fs::path(item.path).parent_path() / "truth" / (scan.meta.scan_id + ".json")).string();
  CS_ASSIGN_OR_RETURN(std::string truth_text, ReadFile(truth_path));
  CS_ASSIGN_OR_RETURN(ScanTruth truth, ScanTruth::FromJson(truth_text, truth_path));
  std::vector<ExtraThreat> extra;
  std::optional<TruthObject> projected;
  if (item.tip_copy >= 0) {
    // Project a random threat: over a goods item (concealed) 70 % of the time, else anywhere in
    // the parcel; random rotation, 0.9..1.1 scale, the scanner's quantum noise kept.
    Rng rng(item_seed);
    const auto& classes = ThreatClasses();
    const std::string& cls = item.tip_class.empty()
                                 ? classes[rng.Int(0, static_cast<int>(classes.size()) - 1)]
                                 : item.tip_class;
    if (!library) return Status::Internal(item.path + ": a TIP copy without a threat library");
    const double max_kg = item.tip_max_kg;
    const bool small_concealed = max_kg > 0;
    const auto patches = PatchesOf(*library, cls, max_kg);
    if (patches.empty())
      return Status::InvalidArgument("threat library has no patch of class " + cls);
    const ThreatPatch& patch = *patches[rng.Int(0, static_cast<int>(patches.size()) - 1)];
    const TruthObject* container = nullptr;
    std::vector<const TruthObject*> goods;
    for (const auto& ob : truth.objects) {
      if (ob.packaging && !container) container = &ob;
      if (!ob.packaging && !ob.threat) goods.push_back(&ob);
    }
    ProjectOptions po;
    const bool over_goods = !goods.empty() && (small_concealed || rng.Chance(0.7));
    if (over_goods) {
      const TruthObject& g = *goods[rng.Int(0, static_cast<int>(goods.size()) - 1)];
      po.x = g.x0 + (g.x1 - g.x0) * rng.Uniform(0.2, 0.8);
      po.y = g.y0 + (g.y1 - g.y0) * rng.Uniform(0.2, 0.8);
    } else if (container) {
      po.x = container->x0 + (container->x1 - container->x0) * rng.Uniform(0.15, 0.85);
      po.y = container->y0 + (container->y1 - container->y0) * rng.Uniform(0.15, 0.85);
    } else {
      po.x = scan.width * rng.Uniform(0.2, 0.8);
      po.y = scan.height * rng.Uniform(0.2, 0.8);
    }
    po.rotation_deg = rng.Uniform(0, 360);
    po.scale = rng.Uniform(0.9, 1.1);
    po.photons_per_pixel = 15000;
    po.seed = rng.Next();
    CS_ASSIGN_OR_RETURN(ProjectedThreat p, ProjectThreat(patch, po, &scan));
    extra.push_back({p.threat_class, p.mask_rle});
    scan.meta.scan_id += "_tip" + std::to_string(item.tip_copy);
    projected.emplace();
    projected->name = p.name;
    projected->category = "threat";
    projected->threat = true;
    projected->threat_class = p.threat_class;
    projected->concealed = over_goods;
    projected->mass_kg = patch.mass_kg * po.scale * po.scale;
    projected->x0 = p.x0, projected->y0 = p.y0, projected->x1 = p.x1, projected->y1 = p.y1;
  }
  ScanAnalysis analysis;
  CS_RETURN_IF_ERROR(analyzer.Analyze(scan, &analysis));
  CS_RETURN_IF_ERROR(SampleFromAnalysis(analysis, truth, extra, goods_classes, out));
  out->validation = item.validation;
  out->tip = item.tip_copy >= 0;
  if (projected) out->tip_class = projected->threat_class;
  if (item.validation) {
    std::map<std::string, int> goods_items;
    for (const auto& ob : truth.objects)
      if (!ob.packaging && !ob.threat) ++goods_items[ob.category];
    int most = 0;
    for (const auto& [category, n] : goods_items)
      if (n > most) most = n, out->main_goods = category;
    for (auto& ob : truth.objects)
      if (ob.threat) {
        ob.mask_rle.clear();
        out->truth_threats.push_back(std::move(ob));
      }
    analysis.channels = ScanChannels{};
    out->summary = std::move(analysis);
  }
  return Status::Ok();
}

}  // namespace

Status SampleFromAnalysis(const ScanAnalysis& analysis, const ScanTruth& truth,
                          const std::vector<ExtraThreat>& extra,
                          const std::vector<std::string>& goods_classes, Sample* out) {
  FeatureGrid grid;
  CS_RETURN_IF_ERROR(ComputeFeatures(analysis, 1, &grid));
  CellLabels labels;
  CS_RETURN_IF_ERROR(
      ComputeCellLabels(truth, extra, grid.gh, grid.gw, ThreatClasses(), goods_classes, &labels));
  out->scan_id = analysis.scan_id;
  out->gh = grid.gh;
  out->gw = grid.gw;
  out->width = analysis.width;
  out->height = analysis.height;
  out->pixel_mm = analysis.pixel_mm;
  out->features.resize(grid.data.size());
  for (size_t i = 0; i < grid.data.size(); ++i) out->features[i] = Quantize(grid.data[i]);
  out->threat = std::move(labels.threat);
  out->goods = std::move(labels.goods);
  out->threat_cells.clear();
  for (size_t c = 0; c < out->threat.size(); ++c)
    if (out->threat[c] > 0) out->threat_cells.push_back(static_cast<int32_t>(c));
  if (out->threat_cells.size() > 64) {
    std::vector<int32_t> keep;
    const double step = out->threat_cells.size() / 64.0;
    for (int i = 0; i < 64; ++i) keep.push_back(out->threat_cells[static_cast<size_t>(i * step)]);
    out->threat_cells = std::move(keep);
  }
  return Status::Ok();
}

Result<TrainPlan> PlanTraining(const TrainDataOptions& o, bool training, const TrainContext& ctx) {
  TrainPlan plan;
  // The threat libraries: the first source's (its directory, else simulated), and those of the
  // other training sources with a directory; only when copies are asked for.
  plan.libraries.resize(o.sources.size());
  for (size_t src = 0; src < o.sources.size() && o.tip_rate > 0; ++src) {
    const DetectorTrainSource& source = o.sources[src];
    if (src > 0 && !source.threats_dir) continue;
    auto library =
        source.threats_dir
            ? ThreatLibrary::Load(*source.threats_dir)
            : SimulatedLibrary(source.data_dir, o.simulated_threats_seed.value_or(ctx.seed + 1000));
    if (!library.ok()) return library.status();
    Status s = CheckLibrary(*library, o);
    if (!s.ok()) return src == 0 ? s : s.WithContext(source.data_dir);
    plan.libraries[src] = std::move(*library);
  }
  plan.paths.resize(o.sources.size());
  for (size_t src = 0; src < o.sources.size(); ++src) {
    const std::string& dir = o.sources[src].data_dir;
    CS_ASSIGN_OR_RETURN(auto scans, ListScans(dir));
    auto& paths = plan.paths[src];
    for (const auto& p : scans) {
      const std::string id = fs::path(p).stem().string();
      if (FileExists((fs::path(dir) / "truth" / (id + ".json")).string())) paths.push_back(p);
    }
    if (o.max_scans && static_cast<int64_t>(paths.size()) > *o.max_scans)
      paths.resize(static_cast<size_t>(*o.max_scans));
    if (paths.size() < 10)
      return Status::InvalidArgument(dir + ": needs at least 10 scans with truth/<scan_id>.json");
  }

  // Work list: every scan, plus TIP copies of the clean training scans (whether a scan is clean is
  // known once its truth is read, so each training scan gets its copies and a copy of a scan with
  // a threat is dropped after loading).
  Rng draw(MixSeed(ctx.seed, 17));
  // `rate` TIP copies of scan p (the fraction by chance), each with a patch of one of the classes
  // (empty: any) of at most tip_max_kg (unset: any mass); with tip_targeted_share < 1 that share of
  // the copies, by chance, and the others of any class and mass.
  auto add_copies = [&](const std::string& p, int src) {
    int copies = static_cast<int>(o.tip_rate);
    if (draw.Chance(o.tip_rate - copies)) ++copies;
    for (int c = 0; c < copies; ++c) {
      WorkItem w{p, src, false, c, "", 0};
      // No draw when every copy is targeted: the plan (and so a model) stays as without the share.
      if (o.tip_targeted_share < 1 && !draw.Chance(o.tip_targeted_share)) {
        plan.work.push_back(std::move(w));
        continue;
      }
      if (!o.tip_classes.empty())
        w.tip_class = o.tip_classes[draw.Int(0, static_cast<int>(o.tip_classes.size()) - 1)];
      w.tip_max_kg = o.tip_max_kg.value_or(0);
      plan.work.push_back(std::move(w));
    }
  };
  for (size_t src = 0; src < o.sources.size(); ++src)
    for (const auto& p : plan.paths[src]) {
      const bool val = o.sources[src].validation_only ||
                       (HashId(fs::path(p).stem().string()) % 10000) < o.validation_share * 10000;
      plan.work.push_back({p, static_cast<int>(src), val, -1, "", 0});
      // Without training no training copies are needed; a source after the first needs a library
      // of its own scanner. (The first always draws its copy count, even at rate 0, so that the
      // plan of earlier models is kept.)
      if (val || !training || (src > 0 && !plan.TipLibrary(src))) continue;
      add_copies(p, static_cast<int>(src));
    }
  return plan;
}

Status LoadTrainingData(const TrainPlan& plan, const TrainDataOptions& o, const TrainContext& ctx,
                        TrainData* out) {
  const std::vector<WorkItem>& work = plan.work;
  AnalyzerOptions ao;
  ao.threads = 1;
  std::vector<std::unique_ptr<Analyzer>> analyzers;
  for (const auto& source : o.sources) {
    auto a = Analyzer::Create(source.calibration, ao);
    if (!a.ok()) return a.status().WithContext(source.data_dir);
    analyzers.push_back(std::move(*a));
  }
  const std::vector<std::string> goods_classes = GoodsCategoryNames();
  std::vector<Sample>& samples = out->samples;
  samples.assign(work.size(), Sample{});
  // Loads the work items `items` on ctx.threads threads; `phase` names them in the progress
  // reports.
  auto load = [&](const std::vector<size_t>& items, TrainPhase phase) -> Status {
    std::atomic<size_t> next{0}, done{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    Status first_error;
    auto worker = [&] {
      for (;;) {
        const size_t k = next.fetch_add(1);
        if (k >= items.size() || failed.load()) break;
        const size_t i = items[k];
        const size_t src = static_cast<size_t>(work[i].source);
        Status s = LoadItem(work[i], plan.TipLibrary(src), *analyzers[src], goods_classes,
                            MixSeed(ctx.seed, i, 29), &samples[i]);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = s;
          failed = true;
        }
        done.fetch_add(1);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < ctx.threads; ++t) pool.emplace_back(worker);
    const double phase_start = ctx.Elapsed();
    while (done.load() < items.size() && !failed.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      TrainProgress p;
      p.phase = phase;
      p.done = static_cast<int64_t>(done.load());
      p.total = static_cast<int64_t>(items.size());
      p.eta_s = p.done
                    ? (ctx.Elapsed() - phase_start) * static_cast<double>(p.total - p.done) / p.done
                    : 0;
      ctx.Report(p);
    }
    for (auto& t : pool) t.join();
    return first_error;
  };
  // The scans first, then the TIP copies of those without a threat: a copy of a scan that already
  // has one is dropped (one threat per parcel, as the simulator makes them), so it is not loaded.
  // (Copies keep their place in the work list and their seeds, so the samples do not change.)
  std::vector<size_t> scan_items, copy_items;
  for (size_t i = 0; i < work.size(); ++i)
    (work[i].tip_copy < 0 ? scan_items : copy_items).push_back(i);
  CS_RETURN_IF_ERROR(load(scan_items, TrainPhase::kLoadingScans));
  std::map<std::string, bool> has_threat;
  for (size_t i : scan_items) has_threat[work[i].path] = !samples[i].threat_cells.empty();
  std::vector<size_t> clean_copy_items;
  for (size_t i : copy_items)
    if (!has_threat[work[i].path]) clean_copy_items.push_back(i);
  CS_RETURN_IF_ERROR(load(clean_copy_items, TrainPhase::kLoadingTipCopies));
  out->tip_by_source.assign(o.sources.size(), 0);
  for (size_t i = 0; i < work.size(); ++i) {
    if (work[i].tip_copy >= 0 && has_threat[work[i].path]) continue;  // never loaded
    if (work[i].tip_copy >= 0) {
      ++out->tip_used;
      ++out->tip_by_class[samples[i].tip_class];
      ++out->tip_by_source[static_cast<size_t>(work[i].source)];
      out->tip_small += work[i].tip_max_kg > 0;
    }
    (samples[i].validation ? out->val_idx : out->train_idx).push_back(i);
  }
  if (out->train_idx.empty() || out->val_idx.size() < 5)
    return Status::InvalidArgument("too few scans for a training and a validation split");
  return Status::Ok();
}

uint64_t HashId(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void Sample::Input(std::vector<float>* out) const {
  out->resize(features.size());
  for (size_t i = 0; i < features.size(); ++i) (*out)[i] = Dequantize(features[i]);
}

void MakeCrop(const Sample& s, int crop, Rng* rng, NetBatch* batch, int b) {
  const int oh = s.gh / 2, ow = s.gw / 2, oc = crop / 2;
  int oy = 0, ox = 0;  // crop origin in output cells
  if (!s.threat_cells.empty() && rng->Chance(0.5)) {
    const int32_t c = s.threat_cells[rng->Int(0, static_cast<int>(s.threat_cells.size()) - 1)];
    oy = c / ow - oc / 2 + rng->Int(-oc / 3, oc / 3);
    ox = c % ow - oc / 2 + rng->Int(-oc / 3, oc / 3);
  } else {
    oy = rng->Int(0, std::max(0, oh - oc));
    ox = rng->Int(0, std::max(0, ow - oc));
  }
  oy = std::clamp(oy, 0, std::max(0, oh - oc));
  ox = std::clamp(ox, 0, std::max(0, ow - oc));
  const int iy = oy * 2, ix = ox * 2;
  const bool flip_x = rng->Chance(0.5), flip_y = rng->Chance(0.5), transpose = rng->Chance(0.5);
  const float gain = static_cast<float>(rng->Uniform(0.85, 1.15));
  const float z_gain = static_cast<float>(1 + 0.08 * rng->Normal());
  const float z_off = static_cast<float>(0.06 * rng->Normal());
  const float noise = static_cast<float>(rng->Uniform(0.0, 0.03));
  const size_t plane = static_cast<size_t>(s.gh) * s.gw;
  const size_t cplane = static_cast<size_t>(crop) * crop;
  float* dst = batch->input.data() + static_cast<size_t>(b) * kFeatureChannels * cplane;
  // (u, v) in the crop -> (row, col) in the sample, for a grid of size n.
  auto src_at = [&](int u, int v, int n, int* r, int* c) {
    int a = transpose ? v : u, bb = transpose ? u : v;
    if (flip_y) a = n - 1 - a;
    if (flip_x) bb = n - 1 - bb;
    *r = a;
    *c = bb;
  };
  for (int u = 0; u < crop; ++u)
    for (int v = 0; v < crop; ++v) {
      int r, c;
      src_at(u, v, crop, &r, &c);
      r += iy, c += ix;
      const bool inside = r < s.gh && c < s.gw;
      const size_t si = static_cast<size_t>(r) * s.gw + c;
      const size_t di = static_cast<size_t>(u) * crop + v;
      float f[kFeatureChannels];
      for (int k = 0; k < kFeatureChannels; ++k)
        f[k] = inside ? Dequantize(s.features[k * plane + si]) : 0.0f;
      if (f[0] > 0.005f) {
        f[0] = std::log1p(std::expm1(f[0]) * gain) + noise * static_cast<float>(rng->Normal());
        f[1] = std::log1p(std::expm1(f[1]) * gain);
        if (f[2] != 0) f[2] = f[2] * z_gain + z_off + 0.02f * static_cast<float>(rng->Normal());
      }
      for (int k = 0; k < kFeatureChannels; ++k) dst[k * cplane + di] = f[k];
    }
  for (int u = 0; u < oc; ++u)
    for (int v = 0; v < oc; ++v) {
      int r, c;
      src_at(u, v, oc, &r, &c);
      r += oy, c += ox;
      const size_t di = static_cast<size_t>(b) * oc * oc + static_cast<size_t>(u) * oc + v;
      if (r < oh && c < ow) {
        const size_t si = static_cast<size_t>(r) * ow + c;
        batch->threat[di] = s.threat[si];
        batch->goods[di] = s.goods[si];
      } else {
        batch->threat[di] = 0;
        batch->goods[di] = 0;
      }
    }
}

}  // namespace clearsight::xray

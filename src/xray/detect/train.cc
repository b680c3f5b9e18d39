// Training the detector: load simulated scans (and threat-image-projected copies of the clean
// ones), turn them into feature grids and cell labels, train the network on augmented crops,
// choose the operating point on the validation split, and fit the manifest model there.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "clearsight/xray_detect.h"
#include "clearsight/xray_manifest.h"
#include "clearsight/xray_simulate.h"
#include "common/allocator.h"
#include "common/file_util.h"
#include "common/text.h"
#include "xray/detect/detect_internal.h"
#include "xray/detect/features.h"
#include "xray/detect/net.h"
#include "xray/physics/random.h"

namespace clearsight {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

using xray::Rng;

// Features are kept as 16-bit codes (v = code / 4096 - 4) to halve the memory of a large set.
constexpr float kQuantScale = 4096.0f, kQuantOffset = 4.0f;
uint16_t Quantize(float v) {
  return static_cast<uint16_t>(std::clamp((v + kQuantOffset) * kQuantScale + 0.5f, 0.0f, 65535.0f));
}
float Dequantize(uint16_t q) { return q / kQuantScale - kQuantOffset; }

uint64_t HashId(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The library's patches of a class; with max_kg > 0 only those of known mass up to max_kg.
std::vector<const ThreatPatch*> PatchesOf(const ThreatLibrary& library, const std::string& cls, double max_kg) {
  auto patches = library.OfClass(cls);
  if (max_kg > 0) std::erase_if(patches, [&](const ThreatPatch* p) { return !(p->mass_kg > 0 && p->mass_kg <= max_kg); });
  return patches;
}

struct Sample {
  std::string scan_id;
  std::string source_scan_id;  // of the scan a TIP copy was made from; else scan_id
  bool validation = false;
  bool tip = false;
  std::string tip_class;  // a TIP copy: the projected patch's class
  int gh = 0, gw = 0, width = 0, height = 0;
  double pixel_mm = 0;
  std::vector<uint16_t> features;         // C x gh x gw
  std::vector<int8_t> threat, goods;      // (gh/2) x (gw/2)
  std::vector<int32_t> threat_cells;      // output cells labelled with a threat (a sample of them)
  // Validation only: truth threats and the analysis summary (no channels) for the manifest.
  std::vector<TruthObject> truth_threats;
  ScanAnalysis summary;
  std::string main_goods;  // validation: the goods category of most of the parcel's goods items
};

// One item of the loading work list: a scan, or a TIP copy of a clean scan.
struct WorkItem {
  std::string path;
  int source = 0;  // index into DetectorTrainOptions::sources
  bool validation = false;
  int tip_copy = -1;  // >= 0: the copy number
  std::string tip_class;  // a TIP copy: a patch of this class ("" = any)
  double tip_max_kg = 0;  // > 0: a patch of at most this mass (kg), over a goods item
};

// The threat library of a training source's TIP copies: `threats` for the first, the source's own
// for the others (null: none).
const ThreatLibrary* TipLibrary(const DetectorTrainOptions& o, size_t src) {
  return src == 0 ? o.threats : o.sources[src].threats;
}

Status LoadItem(const WorkItem& item, const DetectorTrainOptions& o, const Analyzer& analyzer,
                const std::vector<std::string>& goods_classes, uint64_t item_seed, Sample* out) {
  CS_ASSIGN_OR_RETURN(Scan scan, ReadScan(item.path));
  const std::string truth_path =
      (fs::path(item.path).parent_path() / "truth" / (scan.meta.scan_id + ".json")).string();
  CS_ASSIGN_OR_RETURN(std::string truth_text, ReadFile(truth_path));
  CS_ASSIGN_OR_RETURN(ScanTruth truth, ScanTruth::FromJson(truth_text, truth_path));
  std::vector<xray::ExtraThreat> extra;
  std::optional<TruthObject> projected;
  const std::string source_scan_id = scan.meta.scan_id;
  if (item.tip_copy >= 0) {
    // Project a random threat: over a goods item (concealed) 70 % of the time, else anywhere in
    // the parcel; random rotation, 0.9..1.1 scale, the scanner's quantum noise kept.
    Rng rng(item_seed);
    const auto& classes = ThreatClasses();
    const std::string& cls =
        item.tip_class.empty() ? classes[rng.Int(0, static_cast<int>(classes.size()) - 1)] : item.tip_class;
    const ThreatLibrary& library = *TipLibrary(o, static_cast<size_t>(item.source));
    const double max_kg = item.tip_max_kg;
    const bool small_concealed = max_kg > 0;
    const auto patches = PatchesOf(library, cls, max_kg);
    if (patches.empty()) return Status::InvalidArgument("threat library has no patch of class " + cls);
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
  xray::FeatureGrid grid;
  CS_RETURN_IF_ERROR(xray::ComputeFeatures(analysis, 1, &grid));
  xray::CellLabels labels;
  CS_RETURN_IF_ERROR(xray::ComputeCellLabels(truth, extra, grid.gh, grid.gw, ThreatClasses(), goods_classes, &labels));
  out->scan_id = scan.meta.scan_id;
  out->source_scan_id = source_scan_id;
  out->validation = item.validation;
  out->tip = item.tip_copy >= 0;
  if (projected) out->tip_class = projected->threat_class;
  out->gh = grid.gh;
  out->gw = grid.gw;
  out->width = scan.width;
  out->height = scan.height;
  out->pixel_mm = scan.meta.pixel_mm;
  out->features.resize(grid.data.size());
  for (size_t i = 0; i < grid.data.size(); ++i) out->features[i] = Quantize(grid.data[i]);
  out->threat = std::move(labels.threat);
  out->goods = std::move(labels.goods);
  for (size_t c = 0; c < out->threat.size(); ++c)
    if (out->threat[c] > 0) out->threat_cells.push_back(static_cast<int32_t>(c));
  if (out->threat_cells.size() > 64) {
    std::vector<int32_t> keep;
    const double step = out->threat_cells.size() / 64.0;
    for (int i = 0; i < 64; ++i) keep.push_back(out->threat_cells[static_cast<size_t>(i * step)]);
    out->threat_cells = std::move(keep);
  }
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

// Fills batch element b with a crop of sample s: random (or around a threat) position, one of the
// 8 flips/rotations, and the calibration-error augmentation (density gain, z_eff offset and
// gain, noise) that stands in for other scanners.
void MakeCrop(const Sample& s, int crop, Rng* rng, xray::NetBatch* batch, int b) {
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
  float* dst = batch->input.data() + static_cast<size_t>(b) * xray::kFeatureChannels * cplane;
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
      float f[xray::kFeatureChannels];
      for (int k = 0; k < xray::kFeatureChannels; ++k) f[k] = inside ? Dequantize(s.features[k * plane + si]) : 0.0f;
      if (f[0] > 0.005f) {
        f[0] = std::log1p(std::expm1(f[0]) * gain) + noise * static_cast<float>(rng->Normal());
        f[1] = std::log1p(std::expm1(f[1]) * gain);
        if (f[2] != 0) f[2] = f[2] * z_gain + z_off + 0.02f * static_cast<float>(rng->Normal());
      }
      for (int k = 0; k < xray::kFeatureChannels; ++k) dst[k * cplane + di] = f[k];
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

// A model's network for this build's inputs and threat classes (their number, and their names in
// order where the model lists them), with the model's settings (*meta; null when unreadable) and
// its training record (*record: path and "trained").
Result<std::unique_ptr<xray::Net>> LoadNetFor(const std::string& path, const xray::NetConfig& cfg,
                                              const std::vector<std::string>& threat_classes, json* meta,
                                              json* record) {
  std::string text;
  CS_ASSIGN_OR_RETURN(auto net, xray::Net::Load(path, &text));
  *meta = json::parse(text, nullptr, false);
  if (meta->is_discarded()) *meta = nullptr;
  CS_RETURN_IF_ERROR(xray::CheckNoRemovedSettings(*meta, path));
  const auto& c = net->config();
  if (c.in_channels != cfg.in_channels || c.threat_classes != cfg.threat_classes ||
      (meta->contains("threat_classes") && (*meta)["threat_classes"] != json(threat_classes)))
    return Status::InvalidArgument(path + ": its network has other inputs or threat classes than this build trains");
  *record = {{"path", path}, {"trained", meta->contains("trained") ? (*meta)["trained"] : json()}};
  return net;
}

void FullInput(const Sample& s, std::vector<float>* out) {
  out->resize(s.features.size());
  for (size_t i = 0; i < s.features.size(); ++i) (*out)[i] = Dequantize(s.features[i]);
}

}  // namespace

Status TrainDetector(const DetectorTrainOptions& o, const std::string& out_path,
                     const std::function<void(const TrainProgress&)>& progress, DetectorTrainReport* report) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };
  // Each training step frees and allocates the same large buffers again (common/allocator.h).
  KeepLargeFreedBlocks();
  if (o.epochs < (o.init_path.empty() ? 1 : 0) || o.epochs > 1000)
    return Status::InvalidArgument(o.init_path.empty() ? "epochs must be 1..1000" : "epochs must be 0..1000");
  if (o.batch < 1 || o.batch > 256) return Status::InvalidArgument("batch must be 1..256");
  if (o.crop_cells < 16 || o.crop_cells % (2 * xray::kNetInputMultiple) != 0)
    return Status::InvalidArgument("crop must be a multiple of 16 cells, at least 16");
  if (!(o.validation_share > 0 && o.validation_share < 1)) return Status::InvalidArgument("validation share must lie in (0, 1)");
  // Either kind of TIP copies: a rate, a library with a patch of every class asked for.
  auto check_tip = [](const char* what, double rate, const ThreatLibrary* library,
                      const std::vector<std::string>& classes, double max_kg) -> Status {
    if (!(rate >= 0 && rate <= 4)) return Status::InvalidArgument(std::string(what) + " rate must lie in 0..4");
    if (!(max_kg >= 0 && max_kg <= 1000))
      return Status::InvalidArgument(std::string(what) + " maximum mass must lie in 0..1000 kg (0: any patch)");
    if (rate == 0) return Status::Ok();
    if (!library || library->patches().empty())
      return Status::InvalidArgument(std::string(what) + " needs a threat library");
    for (const auto& c : classes.empty() ? ThreatClasses() : classes) {
      if (std::find(ThreatClasses().begin(), ThreatClasses().end(), c) == ThreatClasses().end())
        return Status::InvalidArgument(std::string(what) + " class \"" + c + "\" is not a threat class");
      if (PatchesOf(*library, c, max_kg).empty())
        return Status::InvalidArgument("the threat library has no patch of class " + c +
                                       (max_kg > 0 ? " of known mass up to " + FormatFixed(max_kg, 3) + " kg" : ""));
    }
    return Status::Ok();
  };
  CS_RETURN_IF_ERROR(check_tip("threat image projection", o.tip_rate, o.threats, o.tip_classes, o.tip_max_kg));
  for (size_t src = 1; src < o.sources.size(); ++src) {
    if (!o.sources[src].threats) continue;
    if (o.sources[src].validation_only)
      return Status::InvalidArgument(o.sources[src].data_dir + ": a threat library for a validation-only source");
    Status s = check_tip("threat image projection", o.tip_rate, o.sources[src].threats, o.tip_classes, o.tip_max_kg);
    if (!s.ok()) return s.WithContext(o.sources[src].data_dir + ": ");
  }
  if (!(o.tip_targeted_share > 0 && o.tip_targeted_share <= 1))
    return Status::InvalidArgument("TIP targeted share must lie in (0, 1]");
  if (o.tip_targeted_share < 1 && o.tip_classes.empty() && o.tip_max_kg == 0)
    return Status::InvalidArgument("a TIP targeted share below 1 needs TIP classes or a maximum mass to target");
  if (o.threads < 1 || o.threads > 64) return Status::InvalidArgument("threads must be 1..64");
  if (o.sources.empty() || o.sources[0].validation_only)
    return Status::InvalidArgument("no training data: give at least one scan directory, before any validation-only one");
  std::vector<std::vector<std::string>> paths(o.sources.size());
  for (size_t src = 0; src < o.sources.size(); ++src) {
    const std::string& dir = o.sources[src].data_dir;
    CS_ASSIGN_OR_RETURN(auto scans, ListScans(dir));
    for (const auto& p : scans) {
      const std::string id = fs::path(p).stem().string();
      if (FileExists((fs::path(dir) / "truth" / (id + ".json")).string())) paths[src].push_back(p);
    }
    if (o.max_scans > 0 && static_cast<int64_t>(paths[src].size()) > o.max_scans) paths[src].resize(o.max_scans);
    if (paths[src].size() < 10)
      return Status::InvalidArgument(dir + ": needs at least 10 scans with truth/<scan_id>.json");
  }

  const std::vector<std::string> goods_classes = GoodsCategoryNames();
  const auto& threat_classes = ThreatClasses();
  // Loss weights and operating-point priorities per threat class, checked before the long loading.
  auto check_per_class = [&](const std::vector<std::pair<std::string, double>>& given, const char* what,
                             std::vector<double>* factor, json* recorded) -> Status {
    factor->assign(threat_classes.size(), 1.0);
    *recorded = json::object();
    for (const auto& [cls, w] : given) {
      const auto it = std::find(threat_classes.begin(), threat_classes.end(), cls);
      if (it == threat_classes.end()) {
        std::string known;
        for (const auto& c : threat_classes) known += (known.empty() ? "" : ", ") + c;
        return Status::InvalidArgument(std::string(what) + " for \"" + cls + "\": not a threat class (" + known + ")");
      }
      if (!(w > 0 && w <= 100)) return Status::InvalidArgument(std::string(what) + " for " + cls + " must lie in (0, 100]");
      (*factor)[static_cast<size_t>(it - threat_classes.begin())] = w;
      (*recorded)[cls] = w;
    }
    return Status::Ok();
  };
  std::vector<double> class_weight_factor, class_priority_factor;
  json class_weights_json, class_priority_json;
  CS_RETURN_IF_ERROR(check_per_class(o.class_weights, "class weight", &class_weight_factor, &class_weights_json));
  CS_RETURN_IF_ERROR(check_per_class(o.class_priority, "class priority", &class_priority_factor, &class_priority_json));
  if (o.region_probability != 0 && !(o.region_probability >= 0.05 && o.region_probability <= 0.9))
    return Status::InvalidArgument("region probability must lie in [0.05, 0.9] (or 0: the init model's)");

  // Work list: every scan, plus TIP copies of the clean training scans (whether a scan is clean is
  // known once its truth is read, so each training scan gets its copies and a copy of a scan with
  // a threat is dropped after loading).
  std::vector<WorkItem> work;
  Rng plan(xray::MixSeed(o.seed, 17));
  // `rate` TIP copies of scan p (the fraction by chance), each with a patch of one of `classes`
  // (empty: any) of at most `max_kg` (0: any mass); with targeted_share < 1 that share of the
  // copies, by chance, and the others of any class and mass.
  auto add_copies = [&](const std::string& p, int src, double rate, const std::vector<std::string>& classes,
                        double max_kg, double targeted_share) {
    int copies = static_cast<int>(rate);
    if (plan.Chance(rate - copies)) ++copies;
    for (int c = 0; c < copies; ++c) {
      WorkItem w{p, src, false, c, "", 0};
      // No draw when every copy is targeted: the plan (and so a model) stays as without the share.
      if (targeted_share < 1 && !plan.Chance(targeted_share)) {
        work.push_back(std::move(w));
        continue;
      }
      if (!classes.empty()) w.tip_class = classes[plan.Int(0, static_cast<int>(classes.size()) - 1)];
      w.tip_max_kg = max_kg;
      work.push_back(std::move(w));
    }
  };
  for (size_t src = 0; src < o.sources.size(); ++src)
    for (const auto& p : paths[src]) {
      const bool val = o.sources[src].validation_only ||
                       (HashId(fs::path(p).stem().string()) % 10000) < o.validation_share * 10000;
      work.push_back({p, static_cast<int>(src), val, -1, ""});
      // Without training no training copies are needed; a source after the first needs a library
      // of its own scanner. (The first always draws its copy count, even at rate 0, so that the
      // plan of earlier models is kept.)
      if (val || o.epochs == 0 || (src > 0 && !TipLibrary(o, src))) continue;
      add_copies(p, static_cast<int>(src), o.tip_rate, o.tip_classes, o.tip_max_kg, o.tip_targeted_share);
    }
  AnalyzerOptions ao;
  ao.threads = 1;
  std::vector<std::unique_ptr<Analyzer>> analyzers;
  for (const auto& source : o.sources) {
    auto a = Analyzer::Create(source.calibration, ao);
    if (!a.ok()) return a.status().WithContext(source.data_dir + ": ");
    analyzers.push_back(std::move(*a));
  }

  std::vector<Sample> samples(work.size());
  // Loads the work items `items` on o.threads threads; `phase` names them in the progress lines.
  auto load = [&](const std::vector<size_t>& items, const char* phase) -> Status {
    std::atomic<size_t> next{0}, done{0};
    std::atomic<bool> failed{false};
    std::mutex mu;
    Status first_error;
    auto worker = [&] {
      for (;;) {
        const size_t k = next.fetch_add(1);
        if (k >= items.size() || failed.load()) break;
        const size_t i = items[k];
        const Analyzer& analyzer = *analyzers[static_cast<size_t>(work[i].source)];
        Status s = LoadItem(work[i], o, analyzer, goods_classes, xray::MixSeed(o.seed, i, 29), &samples[i]);
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = s;
          failed = true;
        }
        done.fetch_add(1);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < o.threads; ++t) pool.emplace_back(worker);
    const double phase_start = elapsed();
    while (done.load() < items.size() && !failed.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (progress) {
        TrainProgress p;
        p.phase = phase;
        p.done = static_cast<int64_t>(done.load());
        p.total = static_cast<int64_t>(items.size());
        p.elapsed_s = elapsed();
        p.eta_s = p.done ? (p.elapsed_s - phase_start) * static_cast<double>(p.total - p.done) / p.done : 0;
        progress(p);
      }
    }
    for (auto& t : pool) t.join();
    return first_error;
  };
  // The scans first, then the TIP copies of those without a threat: a copy of a scan that already
  // has one is dropped (one threat per parcel, as the simulator makes them), so it is not loaded.
  // (Copies keep their place in the work list and their seeds, so the samples do not change.)
  std::vector<size_t> scan_items, copy_items;
  for (size_t i = 0; i < work.size(); ++i) (work[i].tip_copy < 0 ? scan_items : copy_items).push_back(i);
  CS_RETURN_IF_ERROR(load(scan_items, "loading scans"));
  std::map<std::string, bool> has_threat;
  for (size_t i : scan_items) has_threat[work[i].path] = !samples[i].threat_cells.empty();
  std::vector<size_t> clean_copy_items;
  for (size_t i : copy_items)
    if (!has_threat[work[i].path]) clean_copy_items.push_back(i);
  CS_RETURN_IF_ERROR(load(clean_copy_items, "loading TIP copies"));
  std::vector<size_t> train_idx, val_idx;
  int64_t tip_used = 0, tip_small = 0;
  std::map<std::string, int64_t> tip_by_class;  // training TIP copies kept, by projected class
  std::vector<int64_t> tip_by_source(o.sources.size(), 0);
  for (size_t i = 0; i < work.size(); ++i) {
    if (work[i].tip_copy >= 0 && has_threat[work[i].path]) continue;  // never loaded
    if (work[i].tip_copy >= 0) {
      ++tip_used;
      ++tip_by_class[samples[i].tip_class];
      ++tip_by_source[static_cast<size_t>(work[i].source)];
      tip_small += work[i].tip_max_kg > 0;
    }
    (samples[i].validation ? val_idx : train_idx).push_back(i);
  }
  if (train_idx.empty() || val_idx.size() < 5) return Status::InvalidArgument("too few scans for a training and a validation split");

  // ---- Network training ----
  xray::NetConfig cfg;
  cfg.in_channels = xray::kFeatureChannels;
  cfg.threat_classes = static_cast<int>(threat_classes.size()) + 1;
  cfg.goods_classes = static_cast<int>(goods_classes.size()) + 1;
  std::unique_ptr<xray::Net> net;
  json init_trained = nullptr;
  // Given, else the init model's (below), else the decoder's default.
  double region_probability = o.region_probability > 0 ? o.region_probability : xray::DetectorMeta{}.region_probability;
  if (o.init_path.empty()) {
    CS_ASSIGN_OR_RETURN(net, xray::Net::Create(cfg, o.seed));
  } else {
    json im, record;
    CS_ASSIGN_OR_RETURN(net, LoadNetFor(o.init_path, cfg, threat_classes, &im, &record));
    init_trained = record["trained"];
    if (o.region_probability <= 0 && im.contains("region_probability") && im["region_probability"].is_number())
      region_probability = im["region_probability"].get<double>();
    if (net->config().goods_classes != cfg.goods_classes)
      return Status::InvalidArgument(o.init_path + ": its network has other goods classes than this build trains");
  }
  xray::NetTrainOptions to;
  to.learning_rate = o.learning_rate;
  to.class_weight_factor = class_weight_factor;
  const int64_t steps_per_epoch = std::max<int64_t>(1, (static_cast<int64_t>(train_idx.size()) + o.batch - 1) / o.batch);
  int epochs = o.epochs;
  Rng rng(xray::MixSeed(o.seed, 31));
  xray::NetBatch batch;
  batch.n = o.batch;
  batch.h = batch.w = o.crop_cells;
  batch.input.resize(static_cast<size_t>(o.batch) * xray::kFeatureChannels * o.crop_cells * o.crop_cells);
  batch.threat.resize(static_cast<size_t>(o.batch) * (o.crop_cells / 2) * (o.crop_cells / 2));
  batch.goods.resize(batch.threat.size());
  const double train_start = elapsed();
  int64_t step = 0;
  auto last_report = clock::now() - std::chrono::seconds(10);
  std::vector<size_t> order = train_idx;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    // Shuffle (Fisher-Yates with our generator: the same order on every platform).
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<size_t>(rng.Uniform() * i)]);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      for (int b = 0; b < o.batch; ++b) {
        const Sample& smp = samples[order[static_cast<size_t>((s * o.batch + b) % order.size())]];
        MakeCrop(smp, o.crop_cells, &rng, &batch, b);
      }
      // Warm-up for 100 steps, then cosine decay to 5 %.
      const int64_t total_steps = steps_per_epoch * epochs;
      const double t = static_cast<double>(step) / std::max<int64_t>(1, total_steps);
      double lr = o.learning_rate * (0.05 + 0.95 * 0.5 * (1 + std::cos(3.14159265358979 * t)));
      if (step < 100) lr *= (step + 1) / 100.0;
      xray::NetLoss loss;
      CS_RETURN_IF_ERROR(net->TrainStep(batch, to, lr, o.threads, &loss));
      loss_sum += loss.total;
      const double spent = elapsed() - train_start;
      const double per_step = spent / (step + 1);
      if (progress && (clock::now() - last_report > std::chrono::seconds(2) || s + 1 == steps_per_epoch)) {
        last_report = clock::now();
        TrainProgress p;
        p.phase = "training";
        p.epoch = epoch + 1;
        p.epochs = epochs;
        p.done = s + 1;
        p.total = steps_per_epoch;
        p.loss = loss_sum / (s + 1);
        p.elapsed_s = elapsed();
        p.eta_s = per_step * (steps_per_epoch * epochs - step - 1);
        progress(p);
      }
    }
    // After the first epoch: fewer epochs when the time budget would be exceeded.
    if (epoch == 0 && o.max_minutes > 0) {
      const double per_epoch = elapsed() - train_start;
      const double left = o.max_minutes * 60 - elapsed() - 0.1 * o.max_minutes * 60;  // keep 10 % for validation
      epochs = std::clamp(static_cast<int>(left / per_epoch) + 1, 1, epochs);
    }
  }

  CS_RETURN_IF_ERROR(net->EndTraining());

  // ---- Validation: operating point, figures, manifest ----
  auto report_phase = [&](const char* phase) {  // a phase without steps of its own
    if (!progress) return;
    TrainProgress p;
    p.phase = phase;
    p.epoch = p.epochs = epochs;
    p.elapsed_s = elapsed();
    progress(p);
  };
  xray::DetectorMeta meta;
  meta.threat_classes = threat_classes;
  meta.goods_classes = goods_classes;
  meta.operating_probability = 0.5;  // scores below are probabilities (0.5 maps to 0.5)
  meta.region_probability = region_probability;
  std::vector<DetectionResult> val_results(val_idx.size());
  std::vector<std::vector<xray::Candidate>> val_candidates(o.verifier ? val_idx.size() : 0);
  std::vector<float> input, tp, gp;
  auto report_scan = [&](const char* phase, size_t i, size_t n) {  // every 20th scan and the last
    if (!progress || (i % 20 != 0 && i + 1 != n)) return;
    TrainProgress p;
    p.phase = phase;
    p.epoch = p.epochs = epochs;
    p.done = static_cast<int64_t>(i + 1);
    p.total = static_cast<int64_t>(n);
    p.elapsed_s = elapsed();
    progress(p);
  };
  for (size_t i = 0; i < val_idx.size(); ++i) {
    const Sample& s = samples[val_idx[i]];
    FullInput(s, &input);
    CS_RETURN_IF_ERROR(net->Infer(input.data(), s.gh, s.gw, o.threads, &tp, &gp));
    xray::DecodeOutputs(tp, gp, s.gh / 2, s.gw / 2, s.width, s.height, s.pixel_mm, meta, 0.0, &val_results[i]);
    if (o.verifier)
      xray::DecodeCandidates(tp, gp, s.gh / 2, s.gw / 2, s.width, s.height, s.pixel_mm, meta,
                             xray::GridView{input.data(), s.gh, s.gw}, &val_candidates[i]);
    report_scan("validating", i, val_idx.size());
  }
  // Operating points, one per class: the validation scores (probabilities here) of each class on
  // clean parcels and of the best detection of each true threat (matched as the evaluation does).
  const size_t nc = threat_classes.size();
  const DetectionEvalOptions eo{};
  // Index of a class in threat_classes; nc when it is not one of them.
  auto class_index = [&](const std::string& c) {
    return static_cast<size_t>(std::find(threat_classes.begin(), threat_classes.end(), c) - threat_classes.begin());
  };
  // Per class: the highest score on each clean parcel, the best matching one of each true threat.
  // `dets(i)` gives validation scan i's detections, scored as probabilities.
  size_t clean_scans = 0;
  for (size_t i : val_idx) clean_scans += samples[i].truth_threats.empty();
  const size_t allowed = static_cast<size_t>(std::floor(o.target_clean_alarm_rate * clean_scans + 1e-9));
  // Each clean parcel's main goods category, in validation order (the clean alarms by goods below).
  std::vector<std::string> clean_main_goods;
  for (size_t i : val_idx)
    if (samples[i].truth_threats.empty()) clean_main_goods.push_back(samples[i].main_goods);
  auto choose_points = [&](const std::function<const std::vector<Detection>&(size_t)>& dets, double floor_p) {
    std::vector<std::vector<double>> clean_scores(nc), threat_scores(nc);
    for (size_t i = 0; i < val_idx.size(); ++i) {
      const Sample& s = samples[val_idx[i]];
      if (s.truth_threats.empty())
        for (size_t k = 0; k < nc; ++k) {
          double m = -1;
          for (const auto& d : dets(i))
            if (d.threat_class == threat_classes[k]) m = std::max(m, d.score);
          clean_scores[k].push_back(m);
        }
      for (const auto& t : s.truth_threats) {
        const size_t k = class_index(t.threat_class);
        if (k == nc) continue;
        double best = -1;
        for (const auto& d : dets(i))
          if (d.threat_class == t.threat_class && xray::DetectionIou(d, t) >= eo.min_iou) best = std::max(best, d.score);
        threat_scores[k].push_back(best);
      }
    }
    return xray::ChooseClassOperatingPoints(clean_scores, threat_scores, floor_p, 0.999, allowed,
                                            class_priority_factor);
  };
  // The validation scans (all, or those `keep` accepts) with `dets` scored against `points`.
  auto evaluate = [&](const std::function<const std::vector<Detection>&(size_t)>& dets,
                      const std::vector<double>& points, const std::function<bool(size_t)>& keep = nullptr) {
    std::vector<xray::EvalScan> eval_scans;
    for (size_t i = 0; i < val_idx.size(); ++i) {
      if (keep && !keep(i)) continue;
      xray::EvalScan e;
      e.scan_id = samples[val_idx[i]].scan_id;
      e.threats = samples[val_idx[i]].truth_threats;
      e.has_result = true;
      for (auto d : dets(i)) {
        d.score = xray::ScoreFromProbability(d.score, points[class_index(d.threat_class)]);
        e.detections.push_back(d);
      }
      eval_scans.push_back(std::move(e));
    }
    return xray::EvaluateScans(eval_scans, threat_classes, eo);
  };
  auto network_dets = [&](size_t i) -> const std::vector<Detection>& { return val_results[i].detections; };
  meta.class_operating_probability = choose_points(network_dets, meta.region_probability);
  meta.operating_probability =
      *std::min_element(meta.class_operating_probability.begin(), meta.class_operating_probability.end());
  DetectionEval val_eval = evaluate(network_dets, meta.class_operating_probability);
  // The final detections and points (the verifier's when it is fitted), for the figures by scanner.
  std::vector<std::vector<Detection>> verified;
  std::function<const std::vector<Detection>&(size_t)> final_dets = network_dets;
  std::vector<double> final_points = meta.class_operating_probability;

  // The second stage: a verifier over each candidate region, fitted on the validation split
  // (folds by scan); its operating points and figures come from out-of-fold probabilities.
  json verifier_json = nullptr;
  std::string network_table, verifier_note;
  std::vector<double> verifier_points;
  if (o.verifier) {
    report_phase("verifier");
    constexpr int kFolds = 5;
    std::vector<float> x, labels;
    std::vector<int> fold;
    for (size_t i = 0; i < val_idx.size(); ++i) {
      const Sample& s = samples[val_idx[i]];
      const int f = static_cast<int>(HashId(s.scan_id + "/verifier") % kFolds);
      for (const auto& c : val_candidates[i]) {
        bool hit = false;
        for (const auto& t : s.truth_threats)
          hit = hit || (t.threat_class == c.detection.threat_class && xray::DetectionIou(c.detection, t) >= eo.min_iou);
        x.insert(x.end(), c.features.begin(), c.features.end());
        labels.push_back(hit ? 1.f : 0.f);
        fold.push_back(f);
      }
    }
    auto fitted = xray::FitRegionVerifier(x, labels, fold, kFolds, o.seed, o.threads);
    if (!fitted.ok()) {
      verifier_note = "verifier not fitted: " + fitted.status().message() + "\n";
    } else {
      const xray::VerifierFit& fit = *fitted;
      verified.assign(val_idx.size(), {});
      size_t row = 0;
      for (size_t i = 0; i < val_idx.size(); ++i)
        for (const auto& c : val_candidates[i]) {
          Detection d = c.detection;
          d.score = fit.out_of_fold[row++];
          verified[i].push_back(std::move(d));
        }
      auto verified_dets = [&](size_t i) -> const std::vector<Detection>& { return verified[i]; };
      verifier_points = choose_points(verified_dets, 0.01);
      network_table = val_eval.ToTable();
      val_eval = evaluate(verified_dets, verifier_points);
      final_dets = verified_dets;
      final_points = verifier_points;
      json per_class = json::object();
      for (size_t k = 0; k < nc; ++k) per_class[threat_classes[k]] = verifier_points[k];
      verifier_json = {{"features", std::vector<std::string>(std::begin(xray::kRegionFeatureNames),
                                                             std::end(xray::kRegionFeatureNames))},
                       {"class_operating_probability", per_class},
                       {"validation_regions", static_cast<int64_t>(labels.size())},
                       {"folds", kFolds},
                       {"booster", json::parse(fit.booster_json)}};
    }
  }

  // The same figures for each scanner (sources sharing a calibration device) on its own: pooled
  // figures can hide a scanner that lags. Same operating points.
  json by_scanner_json = json::array();
  std::string by_scanner_table;
  {
    std::vector<std::string> devices;
    std::vector<size_t> device_of(val_idx.size());  // each validation scan's index in devices
    for (size_t i = 0; i < val_idx.size(); ++i) {
      const std::string& dev = o.sources[static_cast<size_t>(work[val_idx[i]].source)].calibration.device();
      device_of[i] = static_cast<size_t>(std::find(devices.begin(), devices.end(), dev) - devices.begin());
      if (device_of[i] == devices.size()) devices.push_back(dev);
    }
    if (devices.size() > 1) {
      auto rate = [](const DetectionEval& e, const std::string& name) -> std::string {
        for (const auto& c : e.classes)
          if (c.name == name) return c.threats ? FormatFixed(100.0 * c.rate, 1) + " %" : "-";
        return "-";
      };
      by_scanner_table = "validation by scanner (calibration device; the same operating points):\n";
      int width = 7;
      for (const auto& dev : devices) width = std::max(width, std::min(static_cast<int>(dev.size()), 80));
      char line[512];
      std::snprintf(line, sizeof(line), "%-*s %6s %9s %6s %10s %10s %9s %8s\n", width, "scanner", "scans", "clean al.",
                    "mAP", "narcotics", "nar>=200g", "firearm", "knife");
      by_scanner_table += line;
      for (size_t d = 0; d < devices.size(); ++d) {
        const std::string& dev = devices[d];
        const DetectionEval e = evaluate(final_dets, final_points, [&](size_t i) { return device_of[i] == d; });
        std::snprintf(line, sizeof(line), "%-*s %6lld %7.1f %% %6.3f %10s %10s %9s %8s\n", width,
                      dev.substr(0, 80).c_str(),
                      static_cast<long long>(e.scans), 100.0 * e.clean_alarm_rate, e.map, rate(e, "narcotics").c_str(),
                      rate(e, "narcotics_concealed_200g").c_str(), rate(e, "firearm").c_str(), rate(e, "knife").c_str());
        by_scanner_table += line;
        by_scanner_json.push_back({{"calibration_device", dev}, {"evaluation", json::parse(e.ToJson())}});
      }
    }
  }

  // Clean parcels alarmed by main goods category: how far the validation mix's budget carries to a
  // site with other goods.
  std::string by_goods_table;
  json by_goods_json = json::object();
  {
    const std::vector<std::string> categories = xray::DistinctGoodsCategories(clean_main_goods);
    if (!categories.empty()) {
      by_goods_table = "validation clean parcels alarmed, by main goods category (the same operating points):\n";
      for (const auto& c : categories) {
        const DetectionEval e = evaluate(final_dets, final_points, [&](size_t i) {
          const Sample& s = samples[val_idx[i]];
          return s.truth_threats.empty() && s.main_goods == c;
        });
        const auto alarmed = static_cast<int64_t>(std::llround(e.clean_alarm_rate * e.scans));
        char line[160];
        std::snprintf(line, sizeof(line), "  %-12s %4lld of %5lld  %5.1f %%\n", c.c_str(), static_cast<long long>(alarmed),
                      static_cast<long long>(e.scans), 100.0 * e.clean_alarm_rate);
        by_goods_table += line;
        by_goods_json[c] = {{"clean", e.scans}, {"alarmed", alarmed}};
      }
    }
  }

  // Manifest model from the validation split's honest pairs (the network never trained on them).
  std::string manifest_json, manifest_table;
  {
    report_phase("manifest");
    std::map<std::string, Declaration> decls;
    std::map<std::string, std::string> truth_by_scan;
    for (const auto& source : o.sources) {
      IngestReport ir;
      auto d = ReadDeclarationsByConsignment((fs::path(source.data_dir) / "declarations.csv").string(), &ir);
      if (d.ok()) decls.insert(d->begin(), d->end());
      auto dt = ReadFile((fs::path(source.data_dir) / "declarations_truth.csv").string());
      if (!dt.ok()) continue;
      // declaration_id,consignment_id,scan_id,truth,...
      size_t pos = dt->find('\n');
      while (pos != std::string::npos && pos + 1 < dt->size()) {
        size_t end = dt->find('\n', pos + 1);
        std::string line = dt->substr(pos + 1, (end == std::string::npos ? dt->size() : end) - pos - 1);
        pos = end;
        std::vector<std::string> f;
        size_t a = 0;
        for (int k = 0; k < 4; ++k) {
          size_t b = line.find(',', a);
          f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
          if (b == std::string::npos) break;
          a = b + 1;
        }
        if (f.size() >= 4) truth_by_scan[f[2]] = f[3];
      }
    }
    if (!decls.empty() && !truth_by_scan.empty()) {
      std::vector<ManifestExample> honest, misdeclared;
      for (size_t i = 0; i < val_idx.size(); ++i) {
        const Sample& s = samples[val_idx[i]];
        auto t = truth_by_scan.find(s.scan_id);
        auto d = decls.find(s.summary.consignment_id);
        if (t == truth_by_scan.end() || d == decls.end()) continue;
        ManifestExample ex{s.summary, val_results[i], d->second};
        if (t->second == "misdeclared") misdeclared.push_back(std::move(ex));
        else honest.push_back(std::move(ex));  // honest or under-valued: the goods are as declared
      }
      ManifestFitOptions mo;
      mo.seed = o.seed;
      ManifestFitReport mr;
      auto model = ManifestModel::Fit(honest, mo, &mr);
      if (model.ok()) {
        manifest_json = model->ToJson();
        int64_t flagged = 0;
        for (const auto& ex : misdeclared) flagged += !model->Check(ex.analysis, ex.detection, ex.declaration).consistent;
        manifest_table = mr.ToTable() + "misdeclared validation pairs flagged (never used in the fit): " +
                         std::to_string(flagged) + "/" + std::to_string(misdeclared.size()) + " (" +
                         FormatFixed(misdeclared.empty() ? 0.0 : 100.0 * flagged / misdeclared.size(), 1) + " %)\n";
      } else {
        manifest_table = "manifest model not fitted: " + model.status().message() + "\n";
      }
    } else {
      manifest_table = "manifest model not fitted: no training directory has declarations.csv and "
                       "declarations_truth.csv\n";
    }
  }

  // ---- Save ----
  json sources_json = json::array();
  for (size_t src = 0; src < o.sources.size(); ++src)
    sources_json.push_back({{"data", o.sources[src].data_dir},
                            {"calibration_device", o.sources[src].calibration.device()},
                            {"scans", static_cast<int64_t>(paths[src].size())},
                            {"tip_scans", tip_by_source[src]},
                            {"validation_only", o.sources[src].validation_only}});
  json m;
  m["format"] = xray::kDetectorFormat;
  m["threat_classes"] = meta.threat_classes;
  m["goods_classes"] = meta.goods_classes;
  m["cell_px"] = xray::kCellPx;
  m["out_cell_px"] = xray::kOutCellPx;
  m["feature_channels"] = xray::kFeatureChannels;
  m["feature_names"] = std::vector<std::string>(std::begin(xray::kFeatureNames), std::end(xray::kFeatureNames));
  m["operating_probability"] = meta.operating_probability;
  json per_class = json::object();
  for (size_t k = 0; k < nc; ++k) per_class[threat_classes[k]] = meta.class_operating_probability[k];
  m["class_operating_probability"] = per_class;
  m["region_probability"] = meta.region_probability;
  m["trained"] = {{"command", o.command},
                  {"seed", o.seed},
                  {"train_scans", static_cast<int64_t>(train_idx.size()) - tip_used},
                  {"tip_scans", tip_used},
                  {"tip_by_class", tip_by_class},
                  {"tip_small_packets", tip_small},
                  {"validation_scans", static_cast<int64_t>(val_idx.size())},
                  {"epochs", epochs},
                  {"batch", o.batch},
                  {"crop_cells", o.crop_cells},
                  {"learning_rate", o.learning_rate},
                  {"class_weights", class_weights_json},
                  {"class_priority", class_priority_json},
                  {"target_clean_alarm_rate", o.target_clean_alarm_rate},
                  {"threads", o.threads},
                  {"seconds", elapsed()},
                  {"sources", sources_json},
                  {"parameters", net->parameters()},
                  {"widths", {net->config().width8, net->config().width16, net->config().width32}}};
  if (!o.init_path.empty()) m["trained"]["init"] = {{"path", o.init_path}, {"trained", init_trained}};
  m["validation"] = json::parse(val_eval.ToJson());
  if (!by_scanner_json.empty()) m["validation_by_scanner"] = by_scanner_json;
  if (!by_goods_json.empty()) m["validation_clean_by_goods"] = by_goods_json;
  if (!manifest_json.empty()) m["manifest"] = json::parse(manifest_json);
  if (!verifier_json.is_null()) m["verifier"] = verifier_json;
  const std::string tmp = out_path + ".tmp";
  CS_RETURN_IF_ERROR(net->Save(tmp, m.dump()));
  std::error_code ec;
  fs::rename(tmp, out_path, ec);
  if (ec) return Status::IoError(out_path + ": " + ec.message());
  if (report) {
    report->train_scans = static_cast<int64_t>(train_idx.size()) - tip_used;
    report->tip_scans = tip_used;
    report->tip_by_class.assign(tip_by_class.begin(), tip_by_class.end());
    report->tip_small_packets = tip_small;
    report->validation_scans = static_cast<int64_t>(val_idx.size());
    report->epochs = epochs;
    report->seconds = elapsed();
    report->operating_probability = meta.operating_probability;
    for (size_t k = 0; k < nc; ++k)
      report->class_operating_probability.emplace_back(
          threat_classes[k], verifier_points.empty() ? meta.class_operating_probability[k] : verifier_points[k]);
    report->network_validation_table = network_table;
    report->parameters = net->parameters();
    report->validation_table = val_eval.ToTable();
    report->validation_by_scanner_table = by_scanner_table;
    report->validation_by_goods_table = by_goods_table;
    report->manifest_table = verifier_note + manifest_table;
  }
  return Status::Ok();
}

}  // namespace clearsight

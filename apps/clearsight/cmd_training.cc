// clearsight training realism: how realistic the training images' projected threats look
// (include/clearsight/training.h, docs/training.md).
#include <cstdio>
#include <string>

#include "clearsight/file_util.h"
#include "clearsight/text.h"
#include "clearsight/training.h"
#include "commands.h"

namespace clearsight::cli {

namespace {
const char kRealismUsage[] =
    "usage: clearsight training realism [--images 200] [--seed 1] [--classes a,b,...]\n"
    "                                   [--width 1024 --height 768] [--patches-per-class 20]\n"
    "                                   [--fault none|pasted|doubled-noise] [--bootstrap 1000]\n"
    "                                   [--max-auc A] [--json OUT.json]\n"
    "                                   [--features OUT.csv] [--no-cnn] [--cnn-epochs 24]\n"
    "                                   [--threads 2]\n\n"
    "Trains two classifiers (logistic regression, boosted stumps) to tell threats simulated\n"
    "inside parcels from the same classes projected into clean parcels by the training images'\n"
    "TIP, on features of the threat's region (edges, noise, low/high ratio, texture), and reports\n"
    "their AUC on held-out images of another seed with 95 % bootstrap intervals, per class too.\n"
    "0.5: the projection cannot be told apart. docs/training.md holds the figure.\n"
    "  --images N          images of each kind to train on, as many again held out (20..5000)\n"
    "  --seed S            the training images' simulator seed (the held-out seed follows)\n"
    "  --classes LIST      threat classes, comma-separated (default: all)\n"
    "  --fault F           a deliberately broken projection (a control the classifiers must\n"
    "                      catch): pasted (no attenuation added), doubled-noise\n"
    "  --max-auc A         exit 1 when the better classifier's held-out AUC is above A\n"
    "  --json OUT.json     the report: AUCs with intervals, per class, the logistic weights\n"
    "  --features OUT.csv  every image's features (split, class, projected or not)\n"
    "  --no-cnn            without the third classifier, a small CNN on 48 x 48 crops of both\n"
    "                      images and the mask around each threat (it sees the pixels)\n"
    "  --threads N         the CNN's threads\n";
}  // namespace

int CmdTrainingRealism(int argc, char** argv, int first) {
  Args args(argc, argv, first, {"help", "no-cnn"});
  if (int rc = CheckArgs(
          args,
          {"images", "seed", "classes", "width", "height", "patches-per-class", "fault",
           "bootstrap", "max-auc", "json", "features", "no-cnn", "cnn-epochs", "threads", "help"},
          kRealismUsage))
    return rc < 0 ? 0 : rc;
  RealismOptions o;
  long long images, seed, width, height, patches, bootstrap;
  if (!args.GetInt("images", o.images, &images) || images < 20 || images > 5000)
    return Usage("--images must be 20..5000", kRealismUsage);
  if (!args.GetInt("seed", 1, &seed) || seed < 0)
    return Usage("--seed needs a non-negative whole number", kRealismUsage);
  if (!args.GetInt("width", o.width, &width) || !args.GetInt("height", o.height, &height))
    return Usage("--width and --height need whole numbers", kRealismUsage);
  if (!args.GetInt("patches-per-class", o.patches_per_class, &patches) || patches < 1 ||
      patches > 200)
    return Usage("--patches-per-class must be 1..200", kRealismUsage);
  if (!args.GetInt("bootstrap", o.bootstrap, &bootstrap) || bootstrap < 0 || bootstrap > 100000)
    return Usage("--bootstrap must be 0..100000", kRealismUsage);
  double max_auc = 1;
  if (!args.GetDouble("max-auc", 1, &max_auc) || !(max_auc >= 0.5 && max_auc <= 1))
    return Usage("--max-auc must be 0.5..1", kRealismUsage);
  const std::string fault = args.Get("fault", "none");
  if (fault == "pasted")
    o.fault = ProjectionFault::kPasted;
  else if (fault == "doubled-noise")
    o.fault = ProjectionFault::kDoubledNoise;
  else if (fault != "none")
    return Usage("--fault must be none, pasted or doubled-noise", kRealismUsage);
  o.images = static_cast<int>(images);
  o.seed = static_cast<uint64_t>(seed);
  o.width = static_cast<int>(width);
  o.height = static_cast<int>(height);
  o.patches_per_class = static_cast<int>(patches);
  o.bootstrap = static_cast<int>(bootstrap);
  o.cnn = !args.Has("no-cnn");
  long long cnn_epochs, threads;
  if (!args.GetInt("cnn-epochs", o.cnn_epochs, &cnn_epochs) || cnn_epochs < 1 || cnn_epochs > 500)
    return Usage("--cnn-epochs must be 1..500", kRealismUsage);
  if (!args.GetInt("threads", o.threads, &threads) || threads < 1 || threads > 64)
    return Usage("--threads must be 1..64", kRealismUsage);
  o.cnn_epochs = static_cast<int>(cnn_epochs);
  o.threads = static_cast<int>(threads);
  const std::string class_list = args.Get("classes");
  if (!class_list.empty())
    for (std::string_view c : Split(class_list, ','))
      if (!Trim(c).empty()) o.threat_classes.emplace_back(Trim(c));
  auto rep = MeasureProjectionRealism(o);
  if (!rep.ok()) return OptionsRefused(rep.status(), kRealismUsage);
  std::printf("realism of projected threats: %d training images, %d held out (%.0f s)\n",
              rep->train_images, rep->held_out_images, rep->seconds);
  std::printf("  %-16s %6s  %s\n", "classifier", "AUC", "95 % interval");
  for (auto [name, e] :
       {std::pair{"logistic", &rep->logistic}, std::pair{"boosted", &rep->boosted}})
    std::printf("  %-16s %6.3f  %.3f..%.3f\n", name, e->auc, e->low, e->high);
  if (rep->cnn)
    std::printf("  %-16s %6.3f  %.3f..%.3f\n", "cnn", rep->cnn->auc, rep->cnn->low, rep->cnn->high);
  std::printf("  per class (%s):\n", rep->best_classifier.c_str());
  for (const auto& c : rep->classes)
    std::printf("  %-16s %6.3f  %.3f..%.3f  (%d in scene, %d projected)\n", c.threat_class.c_str(),
                c.auc.auc, c.auc.low, c.auc.high, c.in_scene, c.projected);
  std::printf("  strongest tells (logistic weights on standardised features):\n");
  for (size_t i = 0; i < rep->weights.size() && i < 5; ++i)
    std::printf("  %-40s %+.2f\n", rep->weights[i].first.c_str(), rep->weights[i].second);
  if (args.Has("json")) {
    if (Status st = WriteFileAtomic(args.Get("json"), rep->ToJson() + "\n"); !st.ok())
      return Fail(st);
  }
  if (args.Has("features")) {
    if (Status st = WriteFileAtomic(args.Get("features"), rep->features_csv); !st.ok())
      return Fail(st);
  }
  if (rep->best.auc > max_auc) {
    std::fprintf(stderr, "error: held-out AUC %.3f is above --max-auc %.3f\n", rep->best.auc,
                 max_auc);
    return 1;
  }
  return 0;
}

}  // namespace clearsight::cli

// The simulator's catalogue: ordinary goods tied to HS chapters, concealed threats, packaging.
// Sizes, materials and bulk densities are typical values; docs/xray-simulator.md lists them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clearsight/status.h"
#include "xray/physics/random.h"
#include "xray/simulate/geometry.h"

namespace clearsight::xray {

struct GoodsCategory {
  std::string name;         // "clothing"
  std::string hs_chapters;  // "61-62"
  double tax_rate = 0;      // percent, for the generated declarations
};
const std::vector<GoodsCategory>& GoodsCategories();

// A random item of the category (its type is drawn from the category's types; the extended
// types, hard negatives and procedural assortments, only when `extended`).
Item MakeGoods(std::string_view category, Rng* rng, bool extended = false);
// Which threat families may be drawn: one flag per ThreatFamilies() entry; empty: the classic
// families (the default, so old seeds keep their bytes).
using FamilyFilter = std::vector<bool>;
Result<FamilyFilter> MakeFamilyFilter(const std::vector<std::string>& names);
bool ClassHasFamily(std::string_view threat_class, const FamilyFilter& families);
// A random threat of the class (see ThreatClasses()), of an allowed family; empty parts when the
// class has none.
Item MakeThreat(std::string_view threat_class, Rng* rng, const FamilyFilter& families = {});
// Goods type names of a category ("t_shirt", ...).
std::vector<std::string> GoodsTypeNames(std::string_view category, bool extended = false);
// Material names the catalogue used that are not in MaterialCatalog() (empty unless a typo).
std::vector<std::string> UnknownMaterialNames();
// A corrugated cardboard box or a plastic mail bag of these outer sizes (mm).
Item MakeContainer(bool bag, double length, double width, double depth);

}  // namespace clearsight::xray

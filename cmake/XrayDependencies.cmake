# Third-party libraries of the X-ray stage (src/xray); each is used from one adapter file only:
# libtiff (io/tiff_adapter.cc), libpng (io/png_adapter.cc), DCMTK (io/dicos_adapter.cc),
# xraylib (physics/materials.cc). See ../shared/DEPENDENCIES.md for the traps.
find_package(PkgConfig REQUIRED)
pkg_check_modules(XRL REQUIRED IMPORTED_TARGET GLOBAL libxrl)  # GLOBAL: tests compute from it too
find_package(TIFF REQUIRED)
find_package(PNG REQUIRED)
find_package(DCMTK REQUIRED)
# LibTorch (adapters only: cs_torch_sources): ~15 s per translation unit that includes it, and its
# imported targets carry compile options, so each adapter is its own OBJECT library and the rest
# of the project links Torch privately (link-only) without seeing its flags. The link reaches the
# executables through the static library, so Torch's imported targets must be global.
set(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL TRUE)
find_package(Torch REQUIRED)
unset(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL)
# For the stages of other directories (a directory's variables stay in it).
set(CS_TORCH_LIBRARIES ${TORCH_LIBRARIES} CACHE INTERNAL "LibTorch's libraries")

# cs_torch_sources(<adapter> <stage> <files>...): the files that include <torch/torch.h>, built as
# the OBJECT library <adapter> that sees what the stage cs_<stage> sees, and put into that stage,
# which links Torch link-only.
function(cs_torch_sources adapter stage)
  add_library(${adapter} OBJECT ${ARGN})
  get_target_property(roots cs_${stage} CS_INTERNAL_ROOTS)
  target_include_directories(${adapter} PRIVATE ${roots}
                             $<TARGET_PROPERTY:cs_${stage},INTERFACE_INCLUDE_DIRECTORIES>)
  target_link_libraries(${adapter} PRIVATE torch)
  # LibTorch 1.13's headers predate C++20; -w: its headers warn under -Wextra.
  set_target_properties(${adapter} PROPERTIES CXX_STANDARD 17 POSITION_INDEPENDENT_CODE ON)
  target_compile_options(${adapter} PRIVATE -w)
  target_sources(cs_${stage} PRIVATE $<TARGET_OBJECTS:${adapter}>)
  foreach(lib ${CS_TORCH_LIBRARIES})
    target_link_libraries(cs_${stage} PRIVATE $<LINK_ONLY:${lib}>)
  endforeach()
endfunction()

# Third-party libraries of the X-ray stage (src/xray); each is used from one adapter file only:
# libtiff (io/tiff_adapter.cc), libpng (io/png_adapter.cc), DCMTK (io/dicos_adapter.cc),
# xraylib (physics/materials.cc). See ../shared/DEPENDENCIES.md for the traps.
find_package(PkgConfig REQUIRED)
pkg_check_modules(XRL REQUIRED IMPORTED_TARGET GLOBAL libxrl)  # GLOBAL: tests compute from it too
find_package(TIFF REQUIRED)
find_package(PNG REQUIRED)
find_package(DCMTK REQUIRED)
# LibTorch (detect/torch_adapter.cc only): ~15 s per translation unit that includes it, and its
# imported targets carry compile options, so the adapter is its own OBJECT library and the rest of
# the project links Torch privately (link-only) without seeing its flags. The link reaches the
# executables through the static library, so Torch's imported targets must be global.
set(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL TRUE)
find_package(Torch REQUIRED)
unset(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL)

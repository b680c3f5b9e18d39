# Third-party libraries of the X-ray stage (src/xray); each is used from one adapter file only:
# libtiff (io/tiff_adapter.cc), libpng (io/png_adapter.cc), DCMTK (io/dicos_adapter.cc),
# xraylib (physics/materials.cc). See ../shared/DEPENDENCIES.md for the traps.
find_package(PkgConfig REQUIRED)
pkg_check_modules(XRL REQUIRED IMPORTED_TARGET libxrl)
find_package(TIFF REQUIRED)
find_package(PNG REQUIRED)
find_package(DCMTK REQUIRED)

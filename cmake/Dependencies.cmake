# Every third-party library is found here, once; see ../shared/DEPENDENCIES.md for the traps.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)

# Debian's xgboost CMake config names a binary from another package: find the library by hand.
find_library(XGBOOST_LIBRARY NAMES xgboost REQUIRED)
find_path(XGBOOST_INCLUDE_DIR xgboost/c_api.h REQUIRED)
add_library(clearsight_xgboost INTERFACE)
target_link_libraries(clearsight_xgboost INTERFACE ${XGBOOST_LIBRARY})
target_include_directories(clearsight_xgboost SYSTEM INTERFACE ${XGBOOST_INCLUDE_DIR})

# XML messages (postal EAD, the H7 XML form, customs responses): libxml2, used only from
# src/declarations/xml_adapter.cc.
pkg_check_modules(LIBXML2 REQUIRED IMPORTED_TARGET GLOBAL libxml-2.0)

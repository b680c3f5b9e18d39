# Third-party libraries of the fusion, store and service stages (see ../shared/DEPENDENCIES.md).
# Included from src/store and src/service; include_guard keeps it to one evaluation.
include_guard(GLOBAL)
find_package(PkgConfig REQUIRED)
find_package(SQLite3 REQUIRED)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)

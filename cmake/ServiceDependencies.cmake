# Third-party libraries of the fusion, store and service stages (see ../shared/DEPENDENCIES.md).
# Included from src/store and src/service. The imported targets are GLOBAL: libclearsight is
# static, so every directory that links it (tests, bench, the CLI) must see them too.
include_guard(GLOBAL)
find_package(PkgConfig REQUIRED)
find_package(SQLite3 REQUIRED)
set_target_properties(SQLite::SQLite3 PROPERTIES IMPORTED_GLOBAL TRUE)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET GLOBAL libpqxx)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET GLOBAL libsodium)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)  # clients
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET GLOBAL libmicrohttpd)  # the server
pkg_check_modules(NATS REQUIRED IMPORTED_TARGET GLOBAL libnats)  # scale-out queue

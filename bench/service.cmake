# Service load benchmark: wrk against a real `serve` on loopback, and a paced scan client.
include(${PROJECT_SOURCE_DIR}/cmake/ServiceDependencies.cmake)
add_executable(service_bench ${CMAKE_CURRENT_LIST_DIR}/service_bench.cc)
target_link_libraries(service_bench PRIVATE clearsight nlohmann_json::nlohmann_json PkgConfig::HTTPLIB)
target_include_directories(service_bench PRIVATE ${PROJECT_SOURCE_DIR}/bench)
target_compile_definitions(service_bench PRIVATE CS_DATA="${PROJECT_SOURCE_DIR}/data/public")
# Hostile clients against a real `serve`: resident memory and health latency per attack.
add_executable(hostile_bench ${CMAKE_CURRENT_LIST_DIR}/hostile_bench.cc)
target_link_libraries(hostile_bench PRIVATE clearsight)
target_include_directories(hostile_bench PRIVATE ${PROJECT_SOURCE_DIR}/bench)
# The scale-out against one process: PostgreSQL and nats-server on loopback, `clearsight serve
# --nats` and workers spawned as processes (the test suite's server and process helpers).
add_executable(scale_out_bench ${CMAKE_CURRENT_LIST_DIR}/scale_out_bench.cc
               ${PROJECT_SOURCE_DIR}/tests/store/postgres_server.cc)
target_link_libraries(scale_out_bench PRIVATE clearsight nlohmann_json::nlohmann_json PkgConfig::HTTPLIB)
target_include_directories(scale_out_bench PRIVATE ${PROJECT_SOURCE_DIR}/bench ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(scale_out_bench PRIVATE CS_DATA="${PROJECT_SOURCE_DIR}/data/public"
                           CS_TEST_CACHE="${PROJECT_BINARY_DIR}/tests/store/cache")
add_dependencies(scale_out_bench clearsight_cli)

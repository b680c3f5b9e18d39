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

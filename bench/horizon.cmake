# Horizon scanning throughput.
add_executable(horizon_bench ${CMAKE_CURRENT_LIST_DIR}/horizon_bench.cc)
target_link_libraries(horizon_bench PRIVATE clearsight)
target_include_directories(horizon_bench PRIVATE ${PROJECT_SOURCE_DIR}/bench)

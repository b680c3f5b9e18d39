# The stage graph, enforced by the compiler.
#
# Each pipeline stage is a static library made by cs_stage(). A stage sees only its own headers
# and those of the stages it names in DEPS (and, through them, theirs): the build gives each stage
# a view of the tree in build/stages/<stage>/ that holds symbolic links to just the headers it
# owns. An #include of a header of a later stage, or of a stage not named, is then not found:
#   fatal error: clearsight/service.h: No such file or directory
# Every header in include/clearsight/ must be owned by exactly one stage (checked by
# cs_check_stage_headers at the end of src/CMakeLists.txt).
include_guard(GLOBAL)

set(CS_STAGE_VIEWS ${CMAKE_BINARY_DIR}/stages)

# Makes `dir` hold exactly the links in `names` -> `targets` (pairwise), removing stale ones so a
# header dropped from a stage stops being visible.
function(cs_sync_links dir names targets)
  file(MAKE_DIRECTORY ${dir})
  file(GLOB existing LIST_DIRECTORIES true RELATIVE ${dir} ${dir}/*)
  foreach(e ${existing})
    if(NOT e IN_LIST names AND IS_SYMLINK ${dir}/${e})
      file(REMOVE ${dir}/${e})
    endif()
  endforeach()
  foreach(n t IN ZIP_LISTS names targets)
    file(CREATE_LINK ${t} ${dir}/${n} SYMBOLIC)
  endforeach()
endfunction()

# cs_stage(<name>
#   SOURCES <files under src/>...
#   HEADERS <public headers in include/clearsight/ owned by this stage>...
#   INTERNAL <folders under src/ whose headers this stage owns, e.g. xray/detect>...
#   DEPS <stages this one may include and links>...
#   LINK <third-party targets, linked privately>...)
function(cs_stage name)
  cmake_parse_arguments(PARSE_ARGV 1 S "" "" "SOURCES;HEADERS;INTERNAL;DEPS;LINK")
  set(target cs_${name})
  set(view ${CS_STAGE_VIEWS}/${name})
  foreach(dep ${S_DEPS})
    if(NOT TARGET cs_${dep})
      message(FATAL_ERROR "stage '${name}' depends on '${dep}', which is not defined before it: "
                          "stages are declared in pipeline order in src/CMakeLists.txt")
    endif()
  endforeach()

  # Public headers: build/stages/<name>/public/clearsight/<header>.
  set(links "")
  set(targets "")
  foreach(h ${S_HEADERS})
    if(NOT EXISTS ${PROJECT_SOURCE_DIR}/include/clearsight/${h})
      message(FATAL_ERROR "stage '${name}' names include/clearsight/${h}, which does not exist")
    endif()
    list(APPEND links ${h})
    list(APPEND targets ${PROJECT_SOURCE_DIR}/include/clearsight/${h})
    set_property(GLOBAL APPEND PROPERTY CS_OWNED_HEADERS ${h})
  endforeach()
  cs_sync_links(${view}/public/clearsight "${links}" "${targets}")

  # Internal headers: build/stages/<name>/internal/<folder> -> src/<folder>. Later stages that
  # name this one in DEPS see them too (the library's own code may share internal headers along
  # the pipeline; apps and benchmarks see only the public ones).
  set(internal_roots "")
  if(S_INTERNAL)
    set(internal_roots ${view}/internal)
  endif()
  foreach(dir ${S_INTERNAL})
    get_filename_component(parent ${view}/internal/${dir} DIRECTORY)
    get_filename_component(leaf ${dir} NAME)
    cs_sync_links(${parent} "${leaf}" "${PROJECT_SOURCE_DIR}/src/${dir}")
  endforeach()
  foreach(dep ${S_DEPS})
    get_target_property(dep_roots cs_${dep} CS_INTERNAL_ROOTS)
    list(APPEND internal_roots ${dep_roots})
  endforeach()
  list(REMOVE_DUPLICATES internal_roots)

  list(TRANSFORM S_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/src/)
  add_library(${target} STATIC ${S_SOURCES})
  set_target_properties(${target} PROPERTIES CS_INTERNAL_ROOTS "${internal_roots}")
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${view}/public> PRIVATE ${internal_roots})
  list(TRANSFORM S_DEPS PREPEND cs_)
  target_link_libraries(${target} PUBLIC ${S_DEPS} Threads::Threads PRIVATE nlohmann_json::nlohmann_json ${S_LINK})
  set_property(GLOBAL APPEND PROPERTY CS_STAGES ${target})
endfunction()

define_property(TARGET PROPERTY CS_INTERNAL_ROOTS BRIEF_DOCS "internal header roots a stage sees"
                FULL_DOCS "Set by cs_stage().")

# Fails the configure step when a public header belongs to no stage or to several.
function(cs_check_stage_headers)
  get_property(owned GLOBAL PROPERTY CS_OWNED_HEADERS)
  file(GLOB all RELATIVE ${PROJECT_SOURCE_DIR}/include/clearsight ${PROJECT_SOURCE_DIR}/include/clearsight/*.h)
  foreach(h ${all})
    list(FIND owned ${h} first)
    if(first EQUAL -1)
      message(FATAL_ERROR "include/clearsight/${h} belongs to no stage: name it in HEADERS of one cs_stage()")
    endif()
  endforeach()
  set(seen "")
  foreach(h ${owned})
    if(h IN_LIST seen)
      message(FATAL_ERROR "include/clearsight/${h} is named by two stages")
    endif()
    list(APPEND seen ${h})
  endforeach()
endfunction()

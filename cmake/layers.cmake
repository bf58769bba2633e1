# One static library per layer of src/, each compiled with an include path that shows only the
# layers it may use (docs/architecture.md, "Layers").
#
# Sources spell includes from src/ ("domain/money.hpp"), but no target gets src/ itself as an
# include directory. Layer L gets ${CMAKE_BINARY_DIR}/layers/L instead, which holds one symlink per
# layer L may include, itself among them (layers/api/domain -> src/domain, ...). An include of a
# layer that is not there finds no file, and the build fails.
#
# A header is checked in its own layer too, not only inside the translation units that include it
# (those may belong to a layer that sees more): every header of L is compiled alone, as one
# generated .cpp of the object library ticketing_L_headers, with L's include path. This also keeps
# every header self-contained.

set(TICKETING_LAYER_ROOT ${CMAKE_BINARY_DIR}/layers)

# ticketing_layer(NAME [MAY_INCLUDE layer...] [LINK target...] [EXCLUDE regex...])
#   Builds src/NAME/**.cpp (minus EXCLUDE matches) into the static library ticketing_NAME.
#   MAY_INCLUDE: the layers of src/ it may include, and links. A layer's headers include those of
#   the layers it uses, so whoever may include L must also be allowed everything L may include:
#   list them all (checked here; layers are declared bottom-up).
#   LINK: third-party targets.
function(ticketing_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "MAY_INCLUDE;LINK;EXCLUDE")
  set(root ${TICKETING_LAYER_ROOT}/${name})
  set(visible ${name} ${ARG_MAY_INCLUDE})
  foreach(layer IN LISTS ARG_MAY_INCLUDE)
    get_property(declared GLOBAL PROPERTY TICKETING_LAYER_${layer} SET)
    if(NOT declared)
      message(FATAL_ERROR "layer ${name} may include ${layer}, which is not declared before it")
    endif()
    get_property(theirs GLOBAL PROPERTY TICKETING_LAYER_${layer})
    foreach(other IN LISTS theirs)
      if(NOT other IN_LIST visible)
        message(FATAL_ERROR "layer ${name} may include ${layer}, which may include ${other}: "
                            "allow ${other} in ${name} too, or drop ${layer}")
      endif()
    endforeach()
  endforeach()
  set_property(GLOBAL PROPERTY TICKETING_LAYER_${name} ${visible})

  # The include root: exactly the visible layers, also when a rule was narrowed since the last run.
  file(MAKE_DIRECTORY ${root})
  file(GLOB present RELATIVE ${root} ${root}/*)
  foreach(entry IN LISTS present)
    if(NOT entry IN_LIST visible)
      file(REMOVE ${root}/${entry})
    endif()
  endforeach()
  foreach(layer IN LISTS visible)
    if(NOT IS_DIRECTORY ${CMAKE_SOURCE_DIR}/src/${layer})
      message(FATAL_ERROR "layer ${name}: no directory src/${layer}")
    endif()
    if(NOT IS_SYMLINK ${root}/${layer})
      file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${layer} ${root}/${layer} SYMBOLIC)
    endif()
  endforeach()

  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${name}/*.cpp)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/${name}/*.hpp)
  foreach(pattern IN LISTS ARG_EXCLUDE)
    list(FILTER sources EXCLUDE REGEX "${pattern}")
  endforeach()

  set(target ticketing_${name})
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${root})
  set(deps)
  foreach(layer IN LISTS ARG_MAY_INCLUDE)
    list(APPEND deps ticketing_${layer})
  endforeach()
  target_link_libraries(${target} PUBLIC ${deps} ${ARG_LINK})

  # One translation unit per header, compiled with the layer's include path.
  set(checks)
  foreach(header IN LISTS headers)
    file(RELATIVE_PATH spelled ${CMAKE_SOURCE_DIR}/src ${header})
    string(REGEX REPLACE "\\.hpp$" ".cpp" check ${TICKETING_LAYER_ROOT}/header-checks/${spelled})
    file(CONFIGURE OUTPUT ${check} CONTENT "#include \"${spelled}\"  // compiles alone, in layer ${name}\n")
    list(APPEND checks ${check})
  endforeach()
  if(checks)
    add_library(${target}_headers OBJECT ${checks})
    target_link_libraries(${target}_headers PRIVATE ${target})
  endif()
endfunction()

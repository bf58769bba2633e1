# cmake -DSRC=<src dir> -P check_include_paths.cmake
# The layer include roots (cmake/layers.cmake) are what stops a wrong include. A path with `..`
# (after a symlink, `domain/../infra/x.hpp` is src/infra/x.hpp) or an absolute path would reach
# past them, so src/ has none: this check fails and names each one.
file(GLOB_RECURSE files ${SRC}/*.cpp ${SRC}/*.hpp)
set(found 0)
foreach(file IN LISTS files)
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]([^\">]*\\.\\.|/)")
  foreach(line IN LISTS lines)
    file(RELATIVE_PATH shown ${SRC}/.. ${file})
    message("${shown}: ${line}")
    math(EXPR found "${found} + 1")
  endforeach()
endforeach()
if(found GREATER 0)
  message(FATAL_ERROR "${found} include(s) with `..` or an absolute path: spell includes from src/ "
                      "(\"domain/money.hpp\") so the layer include roots apply")
endif()

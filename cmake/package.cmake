# package.cmake -- what `cmake --install` puts under a prefix, and the
# Debian package CPack makes of it (`cpack -G DEB` in a build directory).
#
# The four programs are all there is to install: the Lua scripts and the
# SQL migrations are embedded in them at build time, so nothing else is read
# at run time. The package's dependencies are not written by hand:
# dpkg-shlibdeps reads them off the programs, so they are exactly the
# Debian 12 runtime libraries the build linked (libhiredis0.14, libcurl4,
# libuv1, ...), never a -dev package.
include(GNUInstallDirs)
install(TARGETS fleetq-coordinator fleetq-worker fleetqctl fleetq-mockapi
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/ARCHITECTURE.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fleetq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "one LLM API key for a fleet of workers, over Redis")
set(CPACK_PACKAGE_DESCRIPTION
    "fleetq takes prioritised tasks from a Redis stream, runs them on workers of four roles "
    "against an OpenAI-compatible chat API with one shared key under one fleet-wide rate limit "
    "and daily budget, and writes every result to SQLite. This package has the coordinator, "
    "the worker, the operator's tool fleetqctl and the local stand-in API fleetq-mockapi.")
string(JOIN "" CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_PACKAGE_CONTACT "fleetq maintainers")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# what operators use beside the programs: redis-cli to submit, sqlite3 to query
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-tools, sqlite3, ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "redis-server")
include(CPack)

# kp-bench-notifier: mails/s to a local SMTP server and webhooks/s to a local HTTP endpoint
# through the real kumppani-events and kumppani-notifier of this build tree (bench_notifier.c).
add_executable(kp-bench-notifier ${CMAKE_CURRENT_LIST_DIR}/bench_notifier.c)
target_link_libraries(kp-bench-notifier PRIVATE kumppani PkgConfig::UV)
target_compile_definitions(kp-bench-notifier PRIVATE _GNU_SOURCE
  KP_BENCH_EVENTS="$<TARGET_FILE:kumppani-events>"
  KP_BENCH_NOTIFIER="$<TARGET_FILE:kumppani-notifier>")
add_dependencies(kp-bench-notifier kumppani-events kumppani-notifier)
kp_target_warnings(kp-bench-notifier)

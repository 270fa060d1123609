# Optional JupyterLab settings for the course: tools/course.sh starts JupyterLab with
# `--config=tools/jupyter_server_config.py`. The playground needs none of them: its page sends the
# kernel one message every second and a half, whatever the frame rate, and the package's server
# extension (A10_server, enabled by installing the package) sends the kernel's messages at once.
# benchmarks/bench_playground.py --server plain,course measures both.
c = get_config()  # noqa: F821 (provided by the config loader)
# Widget messages are not kernel activity: the idle culler and the activity record ignore them.
c.MappingKernelManager.untracked_message_types.append('comm_msg')   # added to the defaults

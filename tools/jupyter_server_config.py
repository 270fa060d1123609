# The course's JupyterLab settings: tools/course.sh and the browser tests start JupyterLab with
# `--config=tools/jupyter_server_config.py`. Both make the live playground's small, frequent messages cheap;
# benchmarks/bench_playground.py measures the difference.
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayConnection(ZMQChannelsWebsocketConnection):
    "Kernel websocket, Nagle off: frames go at once, not after the browser's delayed TCP ack (up to ~40 ms)."
    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()


c = get_config()  # noqa: F821 (provided by the config loader)
c.ServerApp.kernel_websocket_connection_class = NoDelayConnection
# Widget messages (the playground's frames and acknowledgements, sixty of each a second) are not kernel
# activity: without this the server reports busy/idle around each one, and JupyterLab redraws its busy
# indicators 120 times a second.
c.MappingKernelManager.untracked_message_types.append('comm_msg')   # added to the defaults

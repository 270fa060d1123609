# Optional JupyterLab settings for the course: tools/course.sh starts JupyterLab with
# `--config=tools/jupyter_server_config.py`. The playground needs none of them (its page sends the
# kernel one message every second and a half, whatever the frame rate); they only trim a little
# more. benchmarks/bench_playground.py --server course,plain measures both.
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayConnection(ZMQChannelsWebsocketConnection):
    "Kernel websocket, Nagle off: a small message goes at once, not after the browser's TCP ack."
    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()


c = get_config()  # noqa: F821 (provided by the config loader)
c.ServerApp.kernel_websocket_connection_class = NoDelayConnection
# Widget messages are not kernel activity: the idle culler and the activity record ignore them.
c.MappingKernelManager.untracked_message_types.append('comm_msg')   # added to the defaults

"""A loopback push service for benchmarks: answers every POST with 201 without decrypting. Prints its port."""
import socket

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=201)


if __name__ == "__main__":
    app = web.Application()
    app.router.add_post("/push/{device}", accept)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    web.run_app(app, sock=listener, print=None, access_log=None)

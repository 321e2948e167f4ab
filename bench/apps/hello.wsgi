# The Python hello world Apache httpd + mod_wsgi serves in the comparison rows.
BODY = b"Hello World!"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "12")])
    return [BODY]

"""A USCall integration with zeep: the client built from the WSDL, the operation called with
positional arguments, the JSON answer decoded and `retorno` read. zeep requires every rpc part,
so absent values travel as empty strings (which the webservice reads as absent).

Usage: python call.py WSDL_URL OPERATION [ARG ...]
  an ARG of "-" is sent as "" (absent), and so are the parts not given;
  with OUT_FILE set, a retorno["arquivo_base_64"] is decoded into that file and replaced by its
  decoded length in the output.
Prints {"status":..,"codigo":..,"retorno":..}; exit 2 if the answer is not JSON.
"""
import base64
import json
import os
import sys

from zeep import Client


def main():
    wsdl, op, *args = sys.argv[1:]
    args = ["" if a == "-" else a for a in args]
    client = Client(wsdl)
    operation = client.service._binding._operations[op]
    parts = len(operation.input.body.type.elements)
    args += [""] * (parts - len(args))
    result = getattr(client.service, op)(*args)
    try:
        answer = json.loads(result)
        retorno = answer["retorno"]
    except (TypeError, ValueError, KeyError):
        sys.stderr.write("not a USCall JSON answer: %r\n" % (result,))
        return 2
    out = os.environ.get("OUT_FILE")
    if out and isinstance(retorno, dict) and "arquivo_base_64" in retorno:
        data = base64.b64decode(retorno["arquivo_base_64"], validate=True)
        with open(out, "wb") as f:
            f.write(data)
        retorno["arquivo_base_64"] = len(data)
    print(json.dumps({"status": answer.get("status"), "codigo": answer.get("codigo"), "retorno": retorno}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

<?php
// A USCall integration as vendors' examples write it: SoapClient built from the WSDL, the
// operation called with positional arguments, the JSON answer json_decode()d and `retorno` read.
//
// Usage: php call.php WSDL_URL OPERATION [ARG ...]
//   an ARG of "-" is sent as null (absent);
//   with OUT_FILE set, a retorno->arquivo_base_64 is base64_decode()d into that file and
//   replaced by its decoded length in the output.
// Prints {"status":..,"codigo":..,"retorno":..} as PHP read it; exit 2 if the answer is not JSON.
ini_set("soap.wsdl_cache_enabled", 0);
$wsdl = $argv[1];
$op = $argv[2];
$args = array_map(function ($a) { return $a === '-' ? null : $a; }, array_slice($argv, 3));
$client = new SoapClient($wsdl, ['exceptions' => true, 'cache_wsdl' => WSDL_CACHE_NONE]);
$result = $client->$op(...$args);
$r = json_decode($result);
if ($r === null || !property_exists($r, 'retorno')) {
    fwrite(STDERR, "not a USCall JSON answer: " . var_export($result, true) . "\n");
    exit(2);
}
$retorno = $r->retorno;
$out = getenv('OUT_FILE');
if ($out && is_object($retorno) && isset($retorno->arquivo_base_64)) {
    $bytes = base64_decode($retorno->arquivo_base_64, true);
    if ($bytes === false) {
        fwrite(STDERR, "arquivo_base_64 is not base64\n");
        exit(3);
    }
    file_put_contents($out, $bytes);
    $retorno->arquivo_base_64 = strlen($bytes);
}
echo json_encode([
    'status' => $r->status,
    'codigo' => isset($r->codigo) ? $r->codigo : null,
    'retorno' => $retorno,
], JSON_UNESCAPED_UNICODE), "\n";

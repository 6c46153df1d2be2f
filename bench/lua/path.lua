-- GET one fixed path (a filtered, sorted page), named by BENCH_PATH.
wrk.path = os.getenv("BENCH_PATH")

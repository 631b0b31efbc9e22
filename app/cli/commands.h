// The cyllm subcommands. Each lives in its own cli-<name>.cpp and is listed in main.cpp.
// Every command returns the process exit code; argv starts after the subcommand name.
#pragma once

namespace cyllm::cli {

int cmd_info(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_chat(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_template(int argc, char** argv);
int cmd_validate(int argc, char** argv);
int cmd_render(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_jobs(int argc, char** argv);   // cli-jobs.cpp: the training job queue and its worker
int cmd_export(int argc, char** argv);  // cli-export.cpp: a checkpoint's adapter as PEFT or GGUF LoRA
int cmd_merge(int argc, char** argv);   // cli-merge.cpp: a LoRA adapter folded into the base weights
int cmd_keys(int argc, char** argv);   // cli-keys.cpp: the server's API keys
int cmd_audit(int argc, char** argv);  // cli-audit.cpp: the server's audit log
#ifdef CYLLM_HAVE_QT
int cmd_serve(int argc, char** argv);       // cli-serve.cpp, built only with Qt
int cmd_bench_http(int argc, char** argv);  // cli-bench-http.cpp, built only with Qt
#endif

}  // namespace cyllm::cli

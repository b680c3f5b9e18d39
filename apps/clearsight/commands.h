// Subcommands of the clearsight CLI. Each parses its flags and calls the library; exit codes:
// 0 success, 1 the work failed (bad data, target not met), 2 usage error.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "args.h"
#include "clearsight/declarations.h"
#include "clearsight/status.h"
#include "clearsight/store.h"

namespace clearsight::cli {

int CmdValidate(int argc, char** argv, int first);
// Realistic postal items with planted faults (apps/clearsight/cmd_declarations.cc).
int CmdPostalGenerate(int argc, char** argv, int first);
int CmdDemo(int argc, char** argv, int first);
int CmdFeed(int argc, char** argv, int first);
// An integrator's drop folder posted to a service (apps/clearsight/cmd_watch.cc).
int CmdWatch(int argc, char** argv, int first);
int CmdModelTrain(int argc, char** argv, int first);
int CmdModelEval(int argc, char** argv, int first);
// The model registry (apps/clearsight/cmd_model_registry.cc).
int CmdModelRegister(int argc, char** argv, int first);
int CmdModelList(int argc, char** argv, int first);
int CmdModelShow(int argc, char** argv, int first);
int CmdModelPromote(int argc, char** argv, int first);
int CmdModelRollback(int argc, char** argv, int first);
int CmdModelReject(int argc, char** argv, int first);
// Retraining and the promotion gate (apps/clearsight/cmd_model_retrain.cc).
int CmdModelRetrain(int argc, char** argv, int first);
int CmdModelGate(int argc, char** argv, int first);
int CmdScore(int argc, char** argv, int first);
int CmdRulesCheck(int argc, char** argv, int first);
int CmdRulesRun(int argc, char** argv, int first);
int CmdValuation(int argc, char** argv, int first);
int CmdValuationEval(int argc, char** argv, int first);
// clearsight horizon (apps/clearsight/cmd_horizon.cc).
int CmdHorizon(int argc, char** argv, int first);
// X-ray subcommands (apps/clearsight/cmd_xray.cc): simulate, wedges, calibrate, analyze, ...
int CmdXray(int argc, char** argv, int first);
// xray train, eval and adapt (apps/clearsight/cmd_xray_train.cc).
int CmdXrayTrain(int argc, char** argv, int first);
int CmdXrayEval(int argc, char** argv, int first);
int CmdXrayAdapt(int argc, char** argv, int first);
int CmdXrayUnseenPoints(int argc, char** argv, int first);
// The realism of training images' projected threats (apps/clearsight/cmd_training.cc).
int CmdTrainingRealism(int argc, char** argv, int first);
// The service and its administration (apps/clearsight/cmd_serve.cc).
int CmdWorker(int argc, char** argv, int first);
int CmdServe(int argc, char** argv, int first);
int CmdUsersAdd(int argc, char** argv, int first);
int CmdUsersList(int argc, char** argv, int first);
int CmdUsersDisable(int argc, char** argv, int first);
int CmdUsersEnable(int argc, char** argv, int first);
int CmdUsersRevokeSessions(int argc, char** argv, int first);
int CmdAuditVerify(int argc, char** argv, int first);
int CmdAuditRotateKey(int argc, char** argv, int first);

// Prints "error: <message>" to stderr and returns 1 (2 for usage problems).
int Fail(const Status& status);
int Usage(const std::string& message, const std::string& usage);
// The library refuses options out of range with InvalidArgument: a usage error (exit 2); other
// failures exit 1.
int OptionsRefused(const Status& status, const std::string& usage);
// --format and --rates (a currency rates table, clearsight/currency_rates.h) into *options for
// the commands that read declarations; returns 0, or the exit code after printing why.
int ReadFlags(const Args& args, const std::string& usage, ReadOptions* options);
// Prints the first `max` rejections and warnings of an ingest to stderr, then how many more.
void PrintIngestProblems(const IngestReport& report, size_t max);
// Checks for parse errors and unknown flags; returns 0 when fine, else the exit code.
int CheckArgs(const Args& args, const std::set<std::string>& known, const std::string& usage);

// The audit keyring of --db: --audit-key, else "<db>.audit-key" beside a SQLite file when it
// exists (or, for serve, always: it is made on first start). "" = the chain is not signed.
std::string AuditKeyPath(const Args& args, bool serving);
// The store of --db (and --images, --audit-key) for a command that reads or changes it.
Result<std::unique_ptr<Store>> OpenStoreFromArgs(const Args& args);

}  // namespace clearsight::cli

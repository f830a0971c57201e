// Each `diffmix <command>` lives in its own file and registers itself on the application here.
#pragma once

namespace CLI {
class App;
}

namespace dmx::cli {

void add_plugins_command(CLI::App& app);
void add_sd_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_finetune_command(CLI::App& app);
void add_synthesize_command(CLI::App& app);
void add_grid_command(CLI::App& app);
void add_oracle_command(CLI::App& app);
void add_pretrain_command(CLI::App& app);
void add_dataset_command(CLI::App& app);

}  // namespace dmx::cli
